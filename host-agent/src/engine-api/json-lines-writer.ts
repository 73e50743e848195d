import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** How much a slow reader may leave unread before `offer` starts refusing lines. */
export const DEFAULT_MAX_BACKLOG_BYTES = 1024 * 1024;

/**
 * Writes one JSON document per line into a streamed answer (events, stats, pull/push/build/load
 * progress), never buffering without bound:
 * - a source that can wait (a pull, a build) awaits `write`, which waits for 'drain';
 * - a source that cannot wait (the event bus, a stats ticker) calls `offer`, which refuses the
 *   line once the reader has more than `maxBacklogBytes` unread; the caller then drops it or
 *   ends the stream.
 */
export class JsonLinesWriter {
  private readonly maxBacklogBytes: number;

  constructor(
    private readonly out: Writable,
    options: { maxBacklogBytes?: number } = {},
  ) {
    this.maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
  }

  /** True once the stream was ended or the reader went away. */
  get closed(): boolean {
    return this.out.writableEnded || this.out.destroyed;
  }

  /** Bytes written but not yet taken by the reader. */
  get backlogBytes(): number {
    return this.out.writableLength;
  }

  /**
   * Writes one line and resolves once the stream can take more. Resolves false, without writing,
   * when the stream is already closed or closes while waiting.
   */
  async write(value: unknown): Promise<boolean> {
    if (this.closed) return false;
    if (this.out.write(line(value))) return true;
    const closed = new AbortController();
    try {
      await Promise.race([
        once(this.out, 'drain', { signal: closed.signal }),
        once(this.out, 'close', { signal: closed.signal }),
      ]);
    } catch (error) {
      // once() rejects on the stream's 'error'; the stream is then destroyed, so report closed.
      if (!this.closed) throw error;
    } finally {
      closed.abort();
    }
    return !this.closed;
  }

  /** Writes one line unless the backlog is over the cap or the stream is closed; false when refused. */
  offer(value: unknown): boolean {
    if (this.closed || this.out.writableLength > this.maxBacklogBytes) return false;
    this.out.write(line(value));
    return true;
  }

  /** Ends the stream cleanly: the reader sees the end of the answer. */
  end(): void {
    if (!this.closed) this.out.end();
  }

  /** Cuts the stream off: the reader sees the connection fail, not a clean end (used for slow readers). */
  abort(): void {
    if (!this.out.destroyed) this.out.destroy();
  }
}

function line(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/**
 * The line a progress stream (pull, push, build, load) ends with when the operation fails after
 * the answer started: the CLI prints `error` and exits non-zero.
 */
export function progressError(message: string): { errorDetail: { message: string }; error: string } {
  return { errorDetail: { message }, error: message };
}
