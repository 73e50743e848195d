import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Contender } from './contender.js';
import type { TimedCommand } from './timed-command.js';

/** Container ids (and so the cgroups the runtimes name after them) start with this. */
export const BENCH_CONTAINER_PREFIX = 'skiff-bench-';

/**
 * An OCI runtime run by hand on a bundle: `runc run` / `crun run` in the foreground, a fresh id
 * each time, on a state directory of its own. No image store, no snapshot, no daemon: the floor
 * any engine built on the runtime stands on.
 */
export class OciRuntime implements Contender {
  readonly label: string;

  private constructor(
    private readonly runtime: 'runc' | 'crun',
    private readonly bundle: string,
    private readonly stateDir: string,
    private readonly prefix: readonly string[],
  ) {
    this.label = `${runtime} (\`${runtime} run\`${prefix.length > 0 ? ', through nsenter' : ''})`;
  }

  static async create(
    runtime: 'runc' | 'crun',
    bundle: string,
    directory: string,
    prefix: readonly string[] = [],
  ): Promise<OciRuntime> {
    const stateDir = join(directory, `${runtime}-state`);
    await mkdir(stateDir, { recursive: true });
    return new OciRuntime(runtime, bundle, stateDir, prefix);
  }

  runOnce(serial: number): TimedCommand {
    return {
      argv: [
        ...this.prefix,
        this.runtime,
        '--root',
        this.stateDir,
        'run',
        '--bundle',
        this.bundle,
        `${BENCH_CONTAINER_PREFIX}${this.runtime}-${serial}`,
      ],
    };
  }
}
