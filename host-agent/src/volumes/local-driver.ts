import { isAbsolute } from 'node:path';
import { invalidArgument } from '../engine-error.js';
import { parseMountOptions } from './mount-options.js';
import type { MountFlag } from './volume-mounter.js';

/** The only volume driver Skiff has; plugins are not supported. */
export const LOCAL_DRIVER = 'local';

/** The driver options `docker volume create --opt` takes for the local driver. */
const LOCAL_OPTIONS = ['type', 'device', 'o'] as const;

/** Filesystems whose content is gone once unmounted, so a volume on one must be populated again. */
const EPHEMERAL_TYPES: ReadonlySet<string> = new Set(['tmpfs', 'ramfs']);

/** The mount(2) a local volume with `type`/`device`/`o` needs before a container can use it. */
export interface LocalMount {
  /** `device`: what mount(2) gets as source (`tmpfs`, `/dev/sdb1`, `/srv/data`, `:/export`). */
  source: string;
  /** `type`: the filesystem type (`tmpfs`, `ext4`, `nfs`, `none` for a bind). */
  fstype: string;
  flags: MountFlag[];
  data: string;
  /** For `o=bind`/`o=rbind`: the host directory that must exist when the volume is created and mounted. */
  bindSource?: string;
  /** tmpfs and ramfs lose their content at unmount. */
  ephemeral: boolean;
}

/**
 * Checks a local volume's driver options and returns the mount they describe, or undefined for a
 * plain directory volume. Pure: the store checks that a bind source exists.
 *
 * As moby's local driver: `type` and `device` come together and `o` needs both; `size` (an XFS
 * project quota in moby) is refused, since Skiff sets no quotas.
 */
export function planLocalMount(volumeName: string, options: Readonly<Record<string, string>>): LocalMount | undefined {
  const invalid = (problem: string) => invalidArgument(`invalid options for volume ${volumeName}: ${problem}`);
  for (const key of Object.keys(options)) {
    if (key === 'size') throw invalid('option size (a disk quota) is not supported');
    if (!(LOCAL_OPTIONS as readonly string[]).includes(key)) {
      throw invalid(`unknown option ${JSON.stringify(key)}, the local driver takes type, device and o`);
    }
  }
  const type = options['type'];
  const device = options['device'];
  const o = options['o'];
  if (type === undefined && device === undefined && o === undefined) return undefined;
  if (type === undefined) throw invalid('option type is required with device or o');
  if (device === undefined) throw invalid('option device is required with type or o');
  if (type === '') throw invalid('option type is empty');
  if (device === '') throw invalid('option device is empty');

  const { flags, data } = parseMountOptions(o ?? '');
  if (flags.includes('remount')) throw invalid('mount option remount cannot be used for a volume');
  const isBind = flags.includes('bind') || flags.includes('rbind');
  if (type === 'none' && !isBind) throw invalid('type none needs o=bind or o=rbind');
  if (isBind && !isAbsolute(device)) {
    throw invalid(`bind device must be an absolute path, got ${JSON.stringify(device)}`);
  }
  return {
    source: device,
    fstype: type,
    flags,
    data,
    ...(isBind ? { bindSource: device } : {}),
    ephemeral: !isBind && EPHEMERAL_TYPES.has(type),
  };
}
