import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';

const UNIFIED = '/sys/fs/cgroup/unified';
const CGROUP2_SUPER_MAGIC = 0x63677270;

/**
 * True on a hybrid cgroup host whose cgroup2 mount has controllers: crun 1.8 refuses to run
 * there ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"), even with
 * --cgroup-manager=disabled. This machine's /sys/fs/cgroup/unified offers hugetlb.
 */
export function crunRefusesThisHost(): boolean {
  try {
    if (statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC) return false;
    if (!existsSync(UNIFIED) || statfsSync(UNIFIED).type !== CGROUP2_SUPER_MAGIC) return false;
    return readFileSync(`${UNIFIED}/cgroup.controllers`, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

/**
 * A private mount namespace in which /sys/fs/cgroup/unified is unmounted, so crun (and podman,
 * which runs crun) sees a pure cgroup v1 host. The host's mounts are untouched: the namespace is
 * held by a sleeping process and goes with it, together with any mount made inside it.
 * A command enters it through nsenter, which costs an exec (measured apart in the report).
 */
export class CgroupV1View {
  private constructor(private readonly holder: ChildProcess) {}

  static async open(): Promise<CgroupV1View> {
    const holder = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', `umount ${UNIFIED} && echo ready && exec sleep infinity`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('ready')) resolve();
      };
      holder.stdout?.on('data', onData);
      holder.stderr?.on('data', onData);
      holder.once('error', reject);
      holder.once('exit', (code) =>
        reject(new Error(`unshare exited (${code}) before its namespace was ready: ${output}`)),
      );
    });
    return new CgroupV1View(holder);
  }

  /** The argv prefix that runs a command in the namespace. */
  prefix(): string[] {
    return ['nsenter', `--mount=/proc/${this.holder.pid}/ns/mnt`, '--'];
  }

  async close(): Promise<void> {
    if (this.holder.exitCode !== null || this.holder.signalCode !== null) return;
    const exited = new Promise((resolve) => this.holder.once('exit', resolve));
    this.holder.kill('SIGKILL');
    await exited;
  }
}
