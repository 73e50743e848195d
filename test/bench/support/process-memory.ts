import { readdirSync, readFileSync } from 'node:fs';

interface ProcessEntry {
  pid: number;
  ppid: number;
  name: string;
  cmdline: string;
}

export interface ProcessMemory {
  pid: number;
  name: string;
  /** Resident set, bytes: what `ps` and the goal call RSS. */
  rss: number;
  /** Proportional set, bytes: shared pages divided among their users, so a sum over processes does not count them twice. */
  pss: number;
}

function readProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' do not.
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      entries.push({
        pid: Number(name),
        ppid: Number(fields[1]),
        name: stat.slice(stat.indexOf('(') + 1, close),
        cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' '),
      });
    } catch {
      // It exited while being read.
    }
  }
  return entries;
}

/**
 * The processes of one engine: the trees under `roots`, and every process whose command line
 * names `privateDir` (with its tree), which catches helpers that detach from their parent
 * (containerd's shims, a container's supervisor) as long as they run on the engine's state.
 */
export function engineProcesses(roots: readonly number[], privateDir: string): number[] {
  const processes = readProcesses();
  const children = new Map<number, number[]>();
  for (const entry of processes) children.set(entry.ppid, [...(children.get(entry.ppid) ?? []), entry.pid]);
  const found = new Set<number>();
  const visit = (pid: number) => {
    if (found.has(pid)) return;
    found.add(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  for (const pid of roots) visit(pid);
  for (const entry of processes) if (entry.cmdline.includes(privateDir)) visit(entry.pid);
  return [...found].filter((pid) => processes.some((entry) => entry.pid === pid)).sort((a, b) => a - b);
}

/** RSS and PSS of each process, from /proc/<pid>/smaps_rollup; processes gone meanwhile are left out. */
export function memoryOf(pids: readonly number[]): ProcessMemory[] {
  const measured: ProcessMemory[] = [];
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
      const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      measured.push({ pid, name, rss: kib('Rss'), pss: kib('Pss') });
    } catch {
      // It exited.
    }
  }
  return measured;
}

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
