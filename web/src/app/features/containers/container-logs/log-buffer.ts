import type { StdStream } from '../../../core/engine/stdcopy';

export interface LogLine {
  seq: number;
  stream: StdStream;
  /** As Docker wrote it (RFC 3339 with nanoseconds), or '' when the line had none. */
  time: string;
  text: string;
}

/** Docker's `timestamps=1` prefix: `2024-01-01T00:00:00.123456789Z ` */
const TIMESTAMP = /^(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)) /;

/** Splits Docker's timestamp from a log line. */
export function splitTimestamp(line: string): { time: string; text: string } {
  const match = TIMESTAMP.exec(line);
  return match ? { time: match[1], text: line.slice(match[0].length) } : { time: '', text: line };
}

/** Keeps the last `capacity` lines; older ones are dropped as new ones come. */
export class LogBuffer {
  private lines: LogLine[] = [];
  private nextSeq = 0;
  private droppedCount = 0;

  constructor(readonly capacity: number) {}

  get dropped(): number {
    return this.droppedCount;
  }

  add(stream: StdStream, raw: readonly string[]): void {
    for (const line of raw) this.lines.push({ seq: this.nextSeq++, stream, ...splitTimestamp(line) });
    const excess = this.lines.length - this.capacity;
    if (excess > 0) {
      this.lines = this.lines.slice(excess);
      this.droppedCount += excess;
    }
  }

  /** A new array each time, so a signal holding it sees a change. */
  snapshot(): readonly LogLine[] {
    return [...this.lines];
  }

  clear(): void {
    this.lines = [];
  }
}
