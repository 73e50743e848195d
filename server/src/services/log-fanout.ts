import { type LinkStream, StreamResetError } from '@skiff/protocol/link-stream';
import type { Writable } from 'node:stream';

/** How far one viewer may fall behind a shared stream before it is cut off. */
export const MAX_VIEWER_LAG_BYTES = 1024 * 1024;

/** What a viewer who joins late is shown of what came before. */
export const BACKLOG_BYTES = 64 * 1024;

/**
 * One followed log stream from an agent, shared by every console viewing it. The stream runs at
 * the pace of the agent, not of the slowest viewer: a viewer that falls more than
 * MAX_VIEWER_LAG_BYTES behind is cut off (it may reopen), so no viewer makes the server buffer
 * without bound and none holds up the others. A viewer who joins late first gets the last
 * BACKLOG_BYTES. The stream from the agent closes when the last viewer leaves.
 */
export class LogFanout {
  private readonly viewers = new Set<Writable>();
  private readonly backlog: Buffer[] = [];
  private backlogSize = 0;
  private closed = false;

  constructor(
    private readonly upstream: LinkStream,
    private readonly onClosed: () => void,
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
    for (const chunk of this.backlog) viewer.write(chunk);
  }

  remove(viewer: Writable): void {
    if (!this.viewers.delete(viewer)) return;
    if (this.viewers.size === 0 && !this.closed) {
      this.closed = true;
      this.upstream.destroy();
      this.onClosed();
    }
  }

  private deliver(chunk: Buffer): void {
    this.backlog.push(chunk);
    this.backlogSize += chunk.length;
    while (this.backlogSize > BACKLOG_BYTES && this.backlog.length > 1) {
      this.backlogSize -= this.backlog.shift()!.length;
    }
    for (const viewer of this.viewers) {
      if (viewer.writableLength > MAX_VIEWER_LAG_BYTES) {
        viewer.destroy(
          new StreamResetError({ kind: 'unavailable', message: 'this viewer fell behind the log stream; reopen it' }),
        );
        continue;
      }
      viewer.write(chunk);
    }
  }

  private close(finish: (viewer: Writable) => void): void {
    const wasClosed = this.closed;
    this.closed = true;
    for (const viewer of [...this.viewers]) finish(viewer);
    this.viewers.clear();
    if (!wasClosed) this.onClosed();
  }
}
