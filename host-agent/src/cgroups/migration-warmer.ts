/**
 * Moving a process into a cgroup takes the kernel's cgroup_threadgroup_rwsem for writing, and the
 * first such move after a quiet moment waits for an RCU grace period (7–18 ms measured on this
 * project's machines, unless the kernel was told to favour dynamic cgroup changes). Every
 * container start pays it once: the shim moves pid 1 into the container's cgroups.
 *
 * The warmer pays it earlier and off the start's path. When a client shows up (the CLI's ping,
 * a create), it moves a parked process of its own between two cgroups of one hierarchy, in the
 * thread pool. A container start moments later finds the lock already in its fast state, or
 * waits only for the rest of the same grace period. At most one move is in flight; the parked
 * process (`skiff-shim park`) dies with the agent.
 *
 *   <hierarchy>/<parent>.warm/a and …/b   (freezer on cgroup v1, else pids or another; the unified tree on v2)
 *
 * The directory sits beside the containers' parent, not in it, so it is never taken for a
 * container's cgroup. Engines on one host may share it; each parks its own process there.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { CgroupLayout } from './cgroup-layout.js';

export interface MigrationWarmerOptions {
  /** `<hierarchy>/<parent>.warm`. */
  directory: string;
  /** Starts the parked process (tests pass their own). */
  park: () => ChildProcess;
  /** Told when warming fails for good (it is then off). */
  onDisabled?: (reason: string) => void;
}

export class MigrationWarmer {
  private parked: ChildProcess | undefined;
  private inFlight = false;
  private next: 'a' | 'b' = 'a';
  private disabled = false;
  private prepared: Promise<void> | undefined;

  constructor(private readonly options: MigrationWarmerOptions) {}

  /** `<hierarchy>/<parent>.warm`. */
  get directory(): string {
    return this.options.directory;
  }

  /** The warmer for this host's layout: freezer (else pids, else any but cpuset) on v1, the unified tree on v2. */
  static forLayout(
    layout: CgroupLayout,
    parent: string,
    park: () => ChildProcess,
    onDisabled?: (reason: string) => void,
  ): MigrationWarmer | undefined {
    // Not cpuset: a new cpuset cgroup has no CPUs until given some, and takes no process.
    const hierarchy =
      layout.version === 2
        ? layout.root
        : (layout.controllers.freezer ??
          layout.controllers.pids ??
          layout.hierarchies.find((candidate) => !candidate.controllers.includes('cpuset'))?.dir);
    if (hierarchy === undefined) return undefined;
    return new MigrationWarmer({
      directory: join(hierarchy, `${parent}.warm`),
      park,
      ...(onDisabled ? { onDisabled } : {}),
    });
  }

  /** Starts one move of the parked process unless one is under way; never throws, never waits. */
  warm(): void {
    if (this.disabled || this.inFlight) return;
    this.inFlight = true;
    void this.move()
      .catch((error: unknown) => this.disable(error instanceof Error ? error.message : String(error)))
      .finally(() => {
        this.inFlight = false;
      });
  }

  /** Ends the parked process and removes the directories if no other engine uses them. */
  async close(): Promise<void> {
    this.disabled = true;
    const parked = this.parked;
    this.parked = undefined;
    if (parked && parked.exitCode === null && parked.signalCode === null) {
      const gone = new Promise((resolve) => parked.once('exit', resolve));
      parked.kill('SIGKILL');
      await gone;
    }
    for (const dir of [join(this.options.directory, 'a'), join(this.options.directory, 'b'), this.options.directory]) {
      // EBUSY: another engine's parked process is there; ENOENT: never made.
      await rmdir(dir).catch(() => undefined);
    }
  }

  private async move(): Promise<void> {
    this.prepared ??= this.prepare();
    await this.prepared;
    const parked = this.parked;
    if (!parked?.pid || parked.exitCode !== null || parked.signalCode !== null) {
      throw new Error('the parked process is gone');
    }
    const target = this.next;
    this.next = target === 'a' ? 'b' : 'a';
    await writeFile(join(this.options.directory, target, 'cgroup.procs'), String(parked.pid));
  }

  private async prepare(): Promise<void> {
    for (const dir of [this.options.directory, join(this.options.directory, 'a'), join(this.options.directory, 'b')]) {
      await mkdir(dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    }
    const parked = this.options.park();
    parked.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      parked.once('spawn', resolve);
      parked.once('error', reject);
    });
    this.parked = parked;
  }

  private disable(reason: string): void {
    if (this.disabled) return;
    this.disabled = true;
    this.options.onDisabled?.(reason);
  }
}

/** `skiff-shim park`: a process that only waits, and dies with the agent. */
export function parkWithShim(shimPath: string): () => ChildProcess {
  return () => spawn(shimPath, ['park'], { stdio: 'ignore' });
}
