import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** CPU time (user + system, in seconds) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** The CPU a few processes use between `start()` and `stop()`, as a share of one core. */
export class CpuWatch {
  private readonly before: number[];
  private readonly startedAt = performance.now();

  private constructor(private readonly pids: number[]) {
    this.before = pids.map(safeCpuSeconds);
  }

  static start(pids: number[]): CpuWatch {
    return new CpuWatch(pids);
  }

  /** Per process, the share of one core used since the start (1 = a whole core). */
  stop(): number[] {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return this.pids.map((pid, index) => (safeCpuSeconds(pid) - this.before[index]) / seconds);
  }
}

function safeCpuSeconds(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return Number.NaN; // The process has gone.
  }
}
