/**
 * The mount(8) option words that are mount(2) flags rather than filesystem data, as Docker's local
 * volume driver (moby/sys/mount) knows them. Each names the flag it sets; `rw`, `suid`, `exec`, …
 * only clear one of these, so they never reach a mounter.
 */
export const MOUNT_FLAGS = [
  'ro',
  'nosuid',
  'nodev',
  'noexec',
  'sync',
  'dirsync',
  'remount',
  'mand',
  'noatime',
  'nodiratime',
  'relatime',
  'strictatime',
  'bind',
  'rbind',
  'unbindable',
  'runbindable',
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
] as const;

export type MountFlag = (typeof MOUNT_FLAGS)[number];

/**
 * The two system calls a local volume needs. The real one lives in host-agent/src/sys/ (koffi);
 * unit tests use RecordingVolumeMounter.
 *
 * An implementation does what mount(8) does with the same words: propagation flags (`private`,
 * `rshared`, …) take a second mount(2) after the mount itself, and a bind mount with `ro`,
 * `nosuid`, `nodev` or `noexec` takes a MS_BIND|MS_REMOUNT pass, because the kernel ignores those
 * flags on the first MS_BIND call.
 */
export interface VolumeMounter {
  mount(source: string, target: string, fstype: string, flags: readonly MountFlag[], data: string): Promise<void>;
  /** umount2(target, 0). Rejects with an error whose `code` is 'EINVAL' when nothing is mounted there. */
  unmount(target: string): Promise<void>;
  /** Whether `target` is a mount point now (after a restart, a volume may still be mounted). */
  isMounted(target: string): Promise<boolean>;
}

/** The errno umount2(2) answers for a path that is not a mount point. */
export function isNotMounted(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EINVAL';
}
