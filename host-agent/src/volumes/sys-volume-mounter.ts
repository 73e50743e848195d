import { readFile } from 'node:fs/promises';
import type { MountFlag as SysMountFlag, SysCalls } from '../sys/sys-calls.js';
import type { MountFlag, VolumeMounter } from './volume-mounter.js';

/** mount(8)'s words for the flags mount(2) takes on the mount itself. */
const MOUNT_BITS: Partial<Record<MountFlag, readonly SysMountFlag[]>> = {
  ro: ['rdonly'],
  nosuid: ['nosuid'],
  nodev: ['nodev'],
  noexec: ['noexec'],
  sync: ['synchronous'],
  dirsync: ['dirsync'],
  mand: ['mandlock'],
  noatime: ['noatime'],
  nodiratime: ['nodiratime'],
  relatime: ['relatime'],
  strictatime: ['strictatime'],
  bind: ['bind'],
  rbind: ['bind', 'rec'],
  remount: ['remount'],
};

/** Propagation changes: a second mount(2) on the target, as mount(8) does. */
const PROPAGATION_BITS: Partial<Record<MountFlag, readonly SysMountFlag[]>> = {
  private: ['private'],
  rprivate: ['private', 'rec'],
  shared: ['shared'],
  rshared: ['shared', 'rec'],
  slave: ['slave'],
  rslave: ['slave', 'rec'],
  unbindable: ['unbindable'],
  runbindable: ['unbindable', 'rec'],
};

/** The flags the kernel ignores on the first MS_BIND call: they take a remount pass. */
const BIND_REMOUNT: readonly MountFlag[] = ['ro', 'nosuid', 'nodev', 'noexec'];

/** Local volumes' mounts through mount(2) and umount2(2) (host-agent/src/sys), no mount(8) process. */
export class SysVolumeMounter implements VolumeMounter {
  constructor(private readonly sys: SysCalls) {}

  mount(source: string, target: string, fstype: string, flags: readonly MountFlag[], data: string): Promise<void> {
    // The system calls are synchronous; a failure becomes a rejection, as the interface promises.
    return new Promise((resolve) => {
      this.mountNow(source, target, fstype, flags, data);
      resolve();
    });
  }

  private mountNow(source: string, target: string, fstype: string, flags: readonly MountFlag[], data: string): void {
    const bits = flags.flatMap((flag) => MOUNT_BITS[flag] ?? []);
    this.sys.mount({ source, target, fstype, flags: bits, data });
    const isBind = bits.includes('bind');
    const remount = isBind ? flags.filter((flag) => BIND_REMOUNT.includes(flag)) : [];
    if (remount.length > 0) {
      this.sys.mount({
        source: 'none',
        target,
        fstype: '',
        flags: ['remount', 'bind', ...remount.flatMap((flag) => MOUNT_BITS[flag] ?? [])],
      });
    }
    for (const flag of flags) {
      const propagation = PROPAGATION_BITS[flag];
      if (propagation) this.sys.mount({ source: 'none', target, fstype: '', flags: propagation });
    }
  }

  unmount(target: string): Promise<void> {
    // umount2 answers EINVAL when nothing is mounted there, which is what the store expects.
    return new Promise((resolve) => {
      this.sys.umount2(target);
      resolve();
    });
  }

  async isMounted(target: string): Promise<boolean> {
    return mountPoints(await readFile('/proc/self/mountinfo', 'utf8')).includes(target);
  }
}

/** The mount points of /proc/self/mountinfo (field 5), with its octal escapes (`\040` for a space) decoded. */
export function mountPoints(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .filter((line) => line !== '')
    .map((line) =>
      (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) =>
        String.fromCharCode(parseInt(octal, 8)),
      ),
    );
}
