import { MOUNT_FLAGS, type MountFlag } from './volume-mounter.js';

/** What a volume's `o` option means to mount(2): flags, and the data string the filesystem parses. */
export interface ParsedMountOptions {
  /** The flags left set, in MOUNT_FLAGS order. */
  flags: MountFlag[];
  /** Everything else, comma-joined in the order given: `size=100m,uid=1000`. */
  data: string;
}

/** The words that clear a flag an earlier word set, as mount(8) reads `ro,rw` as `rw`. */
const CLEARING_WORDS: ReadonlyMap<string, MountFlag> = new Map([
  ['rw', 'ro'],
  ['suid', 'nosuid'],
  ['dev', 'nodev'],
  ['exec', 'noexec'],
  ['async', 'sync'],
  ['nomand', 'mand'],
  ['atime', 'noatime'],
  ['diratime', 'nodiratime'],
  ['norelatime', 'relatime'],
  ['nostrictatime', 'strictatime'],
]);

const isMountFlag = (word: string): word is MountFlag => (MOUNT_FLAGS as readonly string[]).includes(word);

/**
 * Splits a mount(8)-style option string into flags and filesystem data, word by word and later
 * words winning, as moby's local driver does. Two deliberate differences: `defaults` is dropped
 * (moby passes it on as data, which tmpfs then rejects with EINVAL), and `rbind` absorbs `bind`
 * (it is MS_BIND|MS_REC).
 */
export function parseMountOptions(options: string): ParsedMountOptions {
  const set = new Set<MountFlag>();
  const data: string[] = [];
  for (const word of options.split(',')) {
    if (word === '' || word === 'defaults') continue;
    if (isMountFlag(word)) {
      set.add(word);
      continue;
    }
    const cleared = CLEARING_WORDS.get(word);
    if (cleared !== undefined) {
      set.delete(cleared);
      continue;
    }
    data.push(word);
  }
  if (set.has('rbind')) set.delete('bind');
  return { flags: MOUNT_FLAGS.filter((flag) => set.has(flag)), data: data.join(',') };
}
