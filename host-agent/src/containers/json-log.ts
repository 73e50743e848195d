import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { sleepUnlessAborted } from './abortable-sleep.js';

/** One line of Docker's json-file log, as skiff-shim writes them. */
export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** The bytes the container wrote, with their line end (a view into the read buffer). */
  log: Buffer;
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
  /** Whether entries need their time (false: `time` is empty unless `since` or `until` needs it). */
  times?: boolean;
  /** How often a followed log is checked for growth. */
  pollMs?: number;
}

/** How much of the log one read takes: a batch of entries is what one read holds. */
const READ_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;

/**
 * Reads a json-file log with Docker's `logs` options, a batch of entries at a time (what one
 * read of the file holds, so a flood costs one write per batch, not one per line); with
 * `follow`, keeps reading until the container stops, woken by inotify when the log grows and
 * checking at least every `pollMs`.
 */
export async function* readJsonLog(path: string, query: LogQuery): AsyncGenerator<LogEntry[]> {
  const wanted = (entry: LogEntry) =>
    (entry.stream === 'stdout' ? query.stdout : query.stderr) && withinTime(entry, query.since, query.until);
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!handle) return;
  const growth = query.follow ? new GrowthSignal(path) : undefined;
  try {
    const reader = new LineReader(
      handle,
      query.times !== false || query.since !== undefined || query.until !== undefined,
    );
    // What the log held when asked: all of it, or its last `tail` entries.
    const backlogEnd = (await handle.stat()).size;
    const tail = query.tail !== undefined && query.tail >= 0 ? query.tail : undefined;
    let kept: LogEntry[] = [];
    while (reader.position < backlogEnd) {
      const batch = await reader.next();
      if (batch === undefined) break;
      const entries = batch.filter(wanted);
      if (tail === undefined) {
        if (entries.length > 0) yield entries;
      } else if (tail > 0) {
        kept = kept.length + entries.length <= tail ? kept.concat(entries) : kept.concat(entries).slice(-tail);
      }
    }
    if (kept.length > 0) yield kept;
    if (!query.follow) return;

    const pollMs = query.pollMs ?? 100;
    for (;;) {
      if (query.signal?.aborted) return;
      const running = query.isRunning?.() ?? false;
      growth?.reset();
      const batch = await reader.next();
      if (batch !== undefined) {
        const entries = batch.filter(wanted);
        if (entries.length > 0) yield entries;
        continue;
      }
      // Read once more after the container stopped, so its last lines are not lost.
      if (!running) return;
      await (growth ? growth.wait(pollMs, query.signal) : sleepUnlessAborted(pollMs, query.signal));
    }
  } finally {
    growth?.close();
    await handle.close();
  }
}

/** Reads whole lines from a growing file; a line still being written waits for its end. */
class LineReader {
  position = 0;
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly handle: FileHandle,
    private readonly times: boolean,
  ) {}

  /** The entries of the next complete lines, or undefined when the file has nothing new. */
  async next(): Promise<LogEntry[] | undefined> {
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, this.position);
    if (bytesRead === 0) return undefined;
    this.position += bytesRead;
    const read = buffer.subarray(0, bytesRead);
    const lastNewline = read.lastIndexOf(NEWLINE);
    if (lastNewline < 0) {
      this.pending = Buffer.concat([this.pending, read]);
      return [];
    }
    // A newline byte never occurs inside a UTF-8 sequence, so the cut leaves every character whole.
    const lines =
      this.pending.length > 0
        ? Buffer.concat([this.pending, read.subarray(0, lastNewline)])
        : read.subarray(0, lastNewline);
    this.pending = Buffer.from(read.subarray(lastNewline + 1));
    return parseLines(lines, this.times);
  }
}

/** Wakes a follower as soon as the log changes (inotify), or when its poll time is up. */
class GrowthSignal {
  private watcher: FSWatcher | undefined;
  private changed = false;
  private wake: (() => void) | undefined;

  constructor(path: string) {
    try {
      this.watcher = watch(path, { persistent: false }, () => {
        this.changed = true;
        this.wake?.();
      });
      // Without inotify (or when the file goes away) the poll alone is left.
      this.watcher.on('error', () => this.close());
    } catch {
      this.watcher = undefined;
    }
  }

  /** Forgets changes seen so far: call before looking at the file. */
  reset(): void {
    this.changed = false;
  }

  /** Resolves on the next change since `reset`, after `ms`, or when `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.changed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.wake?.();
  }
}

function parseLines(lines: Buffer, times: boolean): LogEntry[] {
  const entries: LogEntry[] = [];
  let start = 0;
  while (start < lines.length) {
    let end = lines.indexOf(NEWLINE, start);
    if (end < 0) end = lines.length;
    if (end > start) {
      const entry = parseShimLine(lines, start, end, times) ?? parseAnyLine(lines.subarray(start, end));
      if (entry) entries.push(entry);
    }
    start = end + 1;
  }
  return entries;
}

const LOG_KEY = Buffer.from('{"log":"');
const STREAM_KEY = Buffer.from('","stream":"');
const TIME_KEY = Buffer.from('","time":"');
const STDOUT = Buffer.from('stdout');
const STDERR = Buffer.from('stderr');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** The shortest line of the shape: no text, a one-character time. */
const SHORTEST_LINE = LOG_KEY.length + STREAM_KEY.length + STDOUT.length + TIME_KEY.length + 3;

/** Whether `bytes` holds `key` at `at` (a loop: cheaper than a native call for a few bytes). */
function holds(bytes: Buffer, at: number, key: Buffer): boolean {
  for (let index = 0; index < key.length; index += 1) if (bytes[at + index] !== key[index]) return false;
  return true;
}

/**
 * The fast path for the lines skiff-shim writes, `{"log":"…","stream":"stdout","time":"…"}`,
 * whose text needs no unescaping but its final `\n`: the text is taken from the read buffer as
 * it is, without decoding it. Anything else is left to JSON.parse (undefined).
 */
function parseShimLine(bytes: Buffer, start: number, end: number, times: boolean): LogEntry | undefined {
  if (end - start < SHORTEST_LINE || bytes[end - 1] !== 0x7d || bytes[end - 2] !== QUOTE) return;
  if (!holds(bytes, start, LOG_KEY)) return;
  // From the end: the time holds no quote, and before it come the stream and the keys.
  let timeQuote = end - 3;
  while (timeQuote > start && bytes[timeQuote] !== QUOTE) timeQuote -= 1;
  const timeKeyAt = timeQuote + 1 - TIME_KEY.length;
  const streamAt = timeKeyAt - STDOUT.length;
  const textEnd = streamAt - STREAM_KEY.length;
  if (textEnd < start + LOG_KEY.length || !holds(bytes, timeKeyAt, TIME_KEY) || !holds(bytes, textEnd, STREAM_KEY))
    return;
  const stream = holds(bytes, streamAt, STDOUT) ? 'stdout' : holds(bytes, streamAt, STDERR) ? 'stderr' : undefined;
  if (stream === undefined) return;
  const time = times ? bytes.toString('latin1', timeQuote + 1, end - 2) : '';
  const textStart = start + LOG_KEY.length;
  const escape = bytes.indexOf(BACKSLASH, textStart);
  if (escape < 0 || escape >= textEnd) return { stream, log: bytes.subarray(textStart, textEnd), time };
  if (escape !== textEnd - 2 || bytes[textEnd - 1] !== 0x6e) return;
  // The text ends with the escape `\n`: its backslash becomes the newline, in the read buffer itself.
  bytes[escape] = NEWLINE;
  return { stream, log: bytes.subarray(textStart, textEnd - 1), time };
}

/** Any other well-formed line; a torn one (the host crashed mid-write) is skipped, not fatal. */
function parseAnyLine(line: Buffer): LogEntry | undefined {
  try {
    const entry = JSON.parse(line.toString('utf8')) as { log?: unknown; stream?: unknown; time?: unknown };
    if (typeof entry.log !== 'string' || (entry.stream !== 'stdout' && entry.stream !== 'stderr')) return;
    return {
      stream: entry.stream,
      log: Buffer.from(entry.log),
      time: typeof entry.time === 'string' ? entry.time : '',
    };
  } catch {
    return undefined;
  }
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
