import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { MountFlag, VolumeMounter } from './volume-mounter.js';

/**
 * A VolumeMounter that runs mount(8) and umount(8), for integration tests until the koffi one in
 * host-agent/src/sys/ exists. Arguments go as an array, never through a shell.
 */
export class MountCommandMounter implements VolumeMounter {
  async mount(
    source: string,
    target: string,
    fstype: string,
    flags: readonly MountFlag[],
    data: string,
  ): Promise<void> {
    const options = [...flags, ...(data === '' ? [] : [data])].join(',');
    await run('/bin/mount', ['-t', fstype, ...(options === '' ? [] : ['-o', options]), '--', source, target]);
  }

  async unmount(target: string): Promise<void> {
    try {
      await run('/bin/umount', ['--', target]);
    } catch (error) {
      // umount(8) exits 32 with "not mounted." where umount2(2) answers EINVAL.
      if (/not mounted/.test((error as Error).message)) throw Object.assign(error as Error, { code: 'EINVAL' });
      throw error;
    }
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

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, (error, _stdout, stderr) => {
      if (error === null) resolve();
      // The arguments stay out of the message: mount data can hold a CIFS password.
      else reject(new Error(`${command} failed: ${stderr.trim() || error.message}`, { cause: error }));
    });
  });
}
