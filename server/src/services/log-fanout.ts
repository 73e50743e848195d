import { type LinkStream, StreamResetError } from '@skiff/protocol/link-stream';
import type { Writable } from 'node:stream';

/** A viewer holding more than this unsent pauses the shared stream until it drains. */
export const VIEWER_HIGH_WATER_BYTES = 256 * 1024;

/** A viewer that holds the shared stream paused this long without taking anything is cut off. */
export const VIEWER_STALL_MS = 5_000;

/** What a viewer who joins late is shown of what came before. */
export const BACKLOG_BYTES = 64 * 1024;

/**
 * One followed log stream from an agent, shared by every console viewing it. It runs at the pace
 * of its viewers: when one holds more than VIEWER_HIGH_WATER_BYTES unsent, the stream from the
 * agent pauses (and, through the link's flow control, the agent stops reading the log) until that
 * viewer drains. A viewer that takes nothing for VIEWER_STALL_MS while it holds the others up is
 * cut off (it may reopen), so a stalled viewer neither makes the server buffer without bound nor
 * stops the others for long. A viewer who joins late first gets the last BACKLOG_BYTES. The stream
 * from the agent closes when the last viewer leaves.
 */
export class LogFanout {
  private readonly viewers = new Set<Writable>();
  private readonly backlog: Buffer[] = [];
  private backlogSize = 0;
  private closed = false;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly upstream: LinkStream,
    private readonly onClosed: () => void,
    private readonly stallMs = VIEWER_STALL_MS,
  ) {
    upstream.on('data', (chunk: Buffer) => this.deliver(chunk));
    upstream.once('end', () => this.close((viewer) => viewer.end()));
    upstream.once('error', (error) => this.close((viewer) => viewer.destroy(error)));
    upstream.once('close', () =>
      this.close((viewer) =>
        viewer.destroy(new StreamResetError({ kind: 'unavailable', message: 'the log stream from the host ended' })),
      ),
    );
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  add(viewer: Writable): void {
    if (this.closed) {
      viewer.end();
      return;
    }
    this.viewers.add(viewer);
    viewer.once('close', () => this.remove(viewer));
    viewer.on('drain', () => this.resumeIfClear());
    for (const chunk of this.backlog) viewer.write(chunk);
  }

  remove(viewer: Writable): void {
    if (!this.viewers.delete(viewer)) return;
    if (this.viewers.size === 0 && !this.closed) {
      this.closed = true;
      clearTimeout(this.stallTimer);
      this.upstream.destroy();
      this.onClosed();
      return;
    }
    this.resumeIfClear();
  }

  private deliver(chunk: Buffer): void {
    this.backlog.push(chunk);
    this.backlogSize += chunk.length;
    while (this.backlogSize > BACKLOG_BYTES && this.backlog.length > 1) {
      this.backlogSize -= this.backlog.shift()!.length;
    }
    for (const viewer of this.viewers) viewer.write(chunk);
    if (this.laggards().length > 0) this.pause();
  }

  private laggards(): Writable[] {
    return [...this.viewers].filter((viewer) => viewer.writableLength > VIEWER_HIGH_WATER_BYTES);
  }

  private pause(): void {
    if (this.upstream.isPaused()) return;
    this.upstream.pause();
    this.watchForStalls();
  }

  /** While paused, cuts off every viewer that holds the stream and took nothing for a whole period. */
  private watchForStalls(): void {
    const held = new Map(this.laggards().map((viewer) => [viewer, viewer.writableLength] as const));
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      for (const [viewer, length] of held) {
        if (this.viewers.has(viewer) && viewer.writableLength >= length) {
          viewer.destroy(
            new StreamResetError({ kind: 'unavailable', message: 'this viewer fell behind the log stream; reopen it' }),
          );
        }
      }
      if (this.closed || !this.upstream.isPaused()) return;
      if (this.laggards().length > 0) this.watchForStalls();
      else this.resumeIfClear();
    }, this.stallMs);
  }

  private resumeIfClear(): void {
    if (this.closed || !this.upstream.isPaused() || this.laggards().length > 0) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.upstream.resume();
  }

  private close(finish: (viewer: Writable) => void): void {
    const wasClosed = this.closed;
    this.closed = true;
    clearTimeout(this.stallTimer);
    for (const viewer of [...this.viewers]) finish(viewer);
    this.viewers.clear();
    if (!wasClosed) this.onClosed();
  }
}
