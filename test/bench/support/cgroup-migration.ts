import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP_SUPER_MAGIC = 0x27e0eb;

/**
 * How long the kernel takes to move a new process into a new cgroup, as every engine here does
 * for every container: on cgroup v1 the first write to cgroup.procs after a quiet moment waits
 * for an RCU grace period (unless the kernel favours dynamic cgroup changes, `favordynmods`),
 * which is most of a container start. Measured, not assumed, because it differs from host to
 * host and moves every row of the report. Undefined where the hierarchies are not cgroup v1.
 */
export async function cgroupMigrationMs(trials = 5): Promise<{ firstWriteMs: number; allMs: number } | undefined> {
  const hierarchies = v1Hierarchies();
  if (hierarchies.length === 0) return undefined;
  const firstWrites: number[] = [];
  const totals: number[] = [];
  for (let trial = 0; trial < trials; trial += 1) {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const made: string[] = [];
    try {
      for (const hierarchy of hierarchies) {
        const dir = join(hierarchy, `skiff-bench-probe-${process.pid}-${trial}`);
        mkdirSync(dir);
        made.push(dir);
        if (hierarchy.endsWith('/cpuset')) {
          for (const file of ['cpuset.cpus', 'cpuset.mems']) {
            writeFileSync(join(dir, file), readFileSync(join(hierarchy, file)));
          }
        }
      }
      const started = performance.now();
      for (const [index, dir] of made.entries()) {
        const before = performance.now();
        writeFileSync(join(dir, 'cgroup.procs'), String(child.pid));
        if (index === 0) firstWrites.push(performance.now() - before);
      }
      totals.push(performance.now() - started);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      await removeWhenEmpty(made.reverse());
    }
    await sleep(300); // a quiet moment between trials, as between containers started one by one
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return { firstWriteMs: median(firstWrites), allMs: median(totals) };
}

/** rmdir answers EBUSY for a moment after the last task has gone. */
async function removeWhenEmpty(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        rmdirSync(dir);
        break;
      } catch (error) {
        if (attempt > 50) throw error;
        await sleep(10);
      }
    }
  }
}

function v1Hierarchies(): string[] {
  try {
    return readdirSync(CGROUP_ROOT)
      .map((name) => join(CGROUP_ROOT, name))
      .filter((dir) => {
        try {
          return statfsSync(dir).type === CGROUP_SUPER_MAGIC;
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}
