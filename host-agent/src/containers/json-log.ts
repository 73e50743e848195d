import { open, stat } from 'node:fs/promises';
import { sleepUnlessAborted } from './abortable-sleep.js';

/** One line of Docker's json-file log, as skiff-shim writes them. */
export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** The text, with its line end. */
  log: string;
  /** RFC 3339 with nanoseconds, UTC. */
  time: string;
}

export interface LogQuery {
  stdout: boolean;
  stderr: boolean;
  /** Unix seconds (fractional allowed); entries at or after it. */
  since?: number;
  /** Unix seconds; entries before it. */
  until?: number;
  /** The last N entries only (before `since`/`until` apply, as Docker does it after filtering by stream). */
  tail?: number;
  follow?: boolean;
  /** While following: whether more can still come (the container runs). */
  isRunning?: () => boolean;
  signal?: AbortSignal;
  /** How often a followed log is checked for growth. */
  pollMs?: number;
}

const CHUNK = 64 * 1024;

/** Reads a json-file log with Docker's `logs` options; with `follow`, keeps reading until the container stops. */
export async function* readJsonLog(path: string, query: LogQuery): AsyncGenerator<LogEntry> {
  const wanted = (entry: LogEntry) =>
    (entry.stream === 'stdout' ? query.stdout : query.stderr) && withinTime(entry, query.since, query.until);
  let position = 0;
  let pending = '';
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!handle) return;
  try {
    let entries = parseLines(await readAll(handle), (rest) => (pending = rest));
    position = (await handle.stat()).size - Buffer.byteLength(pending);
    entries = entries.filter(wanted);
    if (query.tail !== undefined && query.tail >= 0) entries = query.tail === 0 ? [] : entries.slice(-query.tail);
    for (const entry of entries) yield entry;
    if (!query.follow) return;

    const pollMs = query.pollMs ?? 100;
    for (;;) {
      if (query.signal?.aborted) return;
      const running = query.isRunning?.() ?? false;
      const size = (await stat(path).catch(() => ({ size: position }))).size;
      if (size > position) {
        const buffer = Buffer.alloc(Math.min(size - position, CHUNK * 16));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        position += bytesRead;
        const text = pending + buffer.subarray(0, bytesRead).toString('utf8');
        for (const entry of parseLines(text, (rest) => (pending = rest))) if (wanted(entry)) yield entry;
        continue;
      }
      // Read once more after the container stopped, so its last lines are not lost.
      if (!running) return;
      await sleepUnlessAborted(pollMs, query.signal);
    }
  } finally {
    await handle.close();
  }
}

async function readAll(handle: Awaited<ReturnType<typeof open>>): Promise<string> {
  return (await handle.readFile()).toString('utf8');
}

function parseLines(text: string, keepRest: (rest: string) => void): LogEntry[] {
  const lines = text.split('\n');
  keepRest(lines.pop() ?? '');
  const entries: LogEntry[] = [];
  for (const line of lines) {
    if (!line) continue;
    try {
      const entry = JSON.parse(line) as LogEntry;
      if (typeof entry.log === 'string' && (entry.stream === 'stdout' || entry.stream === 'stderr'))
        entries.push(entry);
    } catch {
      // A torn line (the host crashed mid-write) is skipped, not fatal.
    }
  }
  return entries;
}

function withinTime(entry: LogEntry, since: number | undefined, until: number | undefined): boolean {
  if (since === undefined && until === undefined) return true;
  const seconds = rfc3339Seconds(entry.time);
  return (since === undefined || seconds >= since) && (until === undefined || seconds < until);
}

/** Seconds since the epoch, keeping the sub-millisecond digits Date would drop. */
export function rfc3339Seconds(time: string): number {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!match) return Date.parse(time) / 1000;
  return Date.parse(`${match[1]}${match[3]}`) / 1000 + Number(`0.${match[2] ?? '0'}`);
}

/** Docker's `since`/`until`: Unix seconds with a fraction, or an RFC 3339 time, or a duration like `10m` back from now. */
export function parseLogTime(value: string, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const duration = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (duration) {
    const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[duration[2] as 'ms' | 's' | 'm' | 'h'];
    return now / 1000 - Number(duration[1]) * unit;
  }
  const parsed = rfc3339Seconds(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}
