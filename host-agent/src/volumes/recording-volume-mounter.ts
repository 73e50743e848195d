import type { MountFlag, VolumeMounter } from './volume-mounter.js';

export type MountCall =
  | { call: 'mount'; source: string; target: string; fstype: string; flags: MountFlag[]; data: string }
  | { call: 'unmount'; target: string };

/**
 * A VolumeMounter that mounts nothing: it records each call, keeps the set of targets it has
 * "mounted" and answers as the kernel would (EBUSY for a second mount on a target, EINVAL for
 * unmounting a target that is not mounted). `failNext` makes the next call of a kind fail.
 */
export class RecordingVolumeMounter implements VolumeMounter {
  readonly calls: MountCall[] = [];
  readonly mounted = new Set<string>();
  private readonly failures = new Map<MountCall['call'], Error>();

  failNext(call: MountCall['call'], error: Error): void {
    this.failures.set(call, error);
  }

  mount(source: string, target: string, fstype: string, flags: readonly MountFlag[], data: string): Promise<void> {
    return settle(() => {
      this.calls.push({ call: 'mount', source, target, fstype, flags: [...flags], data });
      this.takeFailure('mount');
      if (this.mounted.has(target)) throw errno('EBUSY', `mount ${target}: already mounted`);
      this.mounted.add(target);
    });
  }

  unmount(target: string): Promise<void> {
    return settle(() => {
      this.calls.push({ call: 'unmount', target });
      this.takeFailure('unmount');
      if (!this.mounted.delete(target)) throw errno('EINVAL', `umount ${target}: not mounted`);
    });
  }

  isMounted(target: string): Promise<boolean> {
    return Promise.resolve(this.mounted.has(target));
  }

  private takeFailure(call: MountCall['call']): void {
    const failure = this.failures.get(call);
    if (failure === undefined) return;
    this.failures.delete(call);
    throw failure;
  }
}

/** Runs `step` and answers as an async system call would: a rejection, never a synchronous throw. */
function settle(step: () => void): Promise<void> {
  try {
    step();
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}
