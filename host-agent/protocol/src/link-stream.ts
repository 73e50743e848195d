import { Duplex } from 'node:stream';
import type { ErrorBody, ErrorKind } from './error-kind.js';
import { STREAM_CHUNK_BYTES, STREAM_WINDOW_BYTES } from './link-streams.js';

/** Where a LinkStream sends its frames: the Socket.IO emits of one link. */
export interface StreamFrameSink {
  data(id: number, chunk: Uint8Array): void;
  end(id: number): void;
  credit(id: number, bytes: number): void;
  reset(id: number, error: ErrorBody | null): void;
}

/** The error a stream fails with when the other end reset it with a reason. */
export class StreamResetError extends Error {
  constructor(readonly body: ErrorBody) {
    super(body.message);
    this.name = 'StreamResetError';
  }

  get kind(): ErrorKind {
    return this.body.kind;
  }
}

export interface LinkStreamOptions {
  /** Bytes in flight allowed each way; both ends of a link must agree. */
  windowBytes?: number;
  chunkBytes?: number;
  /** How a local failure is told to the other end when the stream is destroyed with an error. */
  describeError?: (error: Error) => ErrorBody;
}

interface PendingWrite {
  chunk: Uint8Array;
  callback: (error?: Error | null) => void;
}

/**
 * One end of a numbered stream as a Node.js Duplex: what is written goes out as `stream.data`
 * frames, no faster than the other end's credit allows; what arrives is readable, and credit goes
 * back as it is read. Ending the writable side sends `stream.end`; destroying the stream before
 * both sides ended sends `stream.reset`.
 */
export class LinkStream extends Duplex {
  private readonly window: number;
  private readonly chunkBytes: number;
  private readonly describeError: (error: Error) => ErrorBody;
  /** Bytes this end may still send. */
  private sendCredit: number;
  /** Bytes the other end may still send us. */
  private receiveAllowance: number;
  /** Bytes received and accepted whose credit has not gone back yet. */
  private ungranted = 0;
  /** The readable buffer is full: credit waits until the consumer reads. */
  private readBlocked = false;
  private pending: PendingWrite | undefined;
  /** Reset by the other end: nothing more is sent. */
  private resetByPeer = false;
  /** The other end sent `stream.end`: it sends no more bytes (the reader may not have reached the end yet). */
  private peerEnded = false;
  private bytesSent = 0;
  private bytesReceived = 0;

  constructor(
    readonly id: number,
    private readonly sink: StreamFrameSink,
    options: LinkStreamOptions = {},
  ) {
    const window = options.windowBytes ?? STREAM_WINDOW_BYTES;
    const chunkBytes = options.chunkBytes ?? STREAM_CHUNK_BYTES;
    // What waits here for a slow local reader is at most this mark plus one window in flight.
    super({ allowHalfOpen: true, readableHighWaterMark: chunkBytes, writableHighWaterMark: chunkBytes });
    this.window = window;
    this.chunkBytes = chunkBytes;
    this.describeError =
      options.describeError ??
      ((error) => (error instanceof StreamResetError ? error.body : { kind: 'internal', message: error.message }));
    this.sendCredit = window;
    this.receiveAllowance = window;
  }

  /** Bytes written out and read in so far (for audit records of sessions). */
  get counters(): { sent: number; received: number } {
    return { sent: this.bytesSent, received: this.bytesReceived };
  }

  /** Bytes waiting in this end for the local reader or for credit: what a stalled peer costs us. */
  get bufferedBytes(): number {
    return this.readableLength + this.writableLength + (this.pending?.chunk.byteLength ?? 0);
  }

  /** A `stream.data` frame arrived. */
  receiveData(chunk: Uint8Array): void {
    if (this.destroyed || this.peerEnded) return;
    if (chunk.byteLength > this.receiveAllowance) {
      this.destroy(
        new StreamResetError({ kind: 'invalid-argument', message: `stream ${this.id}: sent beyond its credit` }),
      );
      return;
    }
    this.receiveAllowance -= chunk.byteLength;
    this.ungranted += chunk.byteLength;
    this.bytesReceived += chunk.byteLength;
    if (!this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) this.readBlocked = true;
    this.grant();
  }

  /** A `stream.end` frame arrived: the other end sends nothing more. */
  receiveEnd(): void {
    if (this.destroyed || this.peerEnded) return;
    this.peerEnded = true;
    this.push(null);
  }

  /** A `stream.credit` frame arrived. */
  receiveCredit(bytes: number): void {
    if (this.destroyed || !Number.isSafeInteger(bytes) || bytes <= 0) return;
    this.sendCredit += bytes;
    this.flushPending();
  }

  /** A `stream.reset` frame arrived: the stream is over both ways. */
  receiveReset(error: ErrorBody | null): void {
    if (this.destroyed) return;
    this.resetByPeer = true;
    if (error) {
      this.destroy(new StreamResetError(error));
      return;
    }
    if (this.peerEnded && !this.readableEnded) {
      // The other end finished its answer and then abandoned the rest: what it sent is still read
      // to the end; only this end's writing stops.
      this.abandonWriting();
      this.once('end', () => this.destroy());
      return;
    }
    this.destroy();
  }

  override _read(): void {
    this.readBlocked = false;
    this.grant();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.resetByPeer) {
      callback(); // Nobody is listening any more: the bytes are dropped.
      return;
    }
    this.pending = { chunk, callback };
    this.flushPending();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.resetByPeer) this.sink.end(this.id);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const pending = this.pending;
    this.pending = undefined;
    const finishedBothWays = this.readableEnded && this.writableFinished;
    if (!this.resetByPeer && !finishedBothWays) {
      this.sink.reset(this.id, error ? this.describeError(error) : null);
    }
    pending?.callback(error ?? new Error(`stream ${this.id} was closed`));
    callback(error);
  }

  /** Drops what waits to be sent; later writes are dropped as well. */
  private abandonWriting(): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.callback();
  }

  /** Sends as much of the pending write as credit allows; completes it when all is out. */
  private flushPending(): void {
    const pending = this.pending;
    if (!pending) return;
    let { chunk } = pending;
    while (chunk.byteLength > 0 && this.sendCredit > 0) {
      const size = Math.min(chunk.byteLength, this.sendCredit, this.chunkBytes);
      this.sink.data(this.id, chunk.subarray(0, size));
      this.sendCredit -= size;
      this.bytesSent += size;
      chunk = chunk.subarray(size);
    }
    if (chunk.byteLength > 0) {
      pending.chunk = chunk;
      return;
    }
    this.pending = undefined;
    pending.callback();
  }

  /**
   * Gives credit back once a quarter window has been taken and the reader keeps up. Credit held
   * back is at most a quarter window, so the sender always has room to go on.
   */
  private grant(): void {
    if (this.readBlocked || this.ungranted < this.window / 4 || this.destroyed) return;
    const bytes = this.ungranted;
    this.ungranted = 0;
    this.receiveAllowance += bytes;
    this.sink.credit(this.id, bytes);
  }
}

/**
 * The streams of one link by number: routes incoming frames to them and forgets each once it
 * closes. When the link drops, `closeAll` fails every stream still open.
 */
export class LinkStreamTable {
  private readonly streams = new Map<number, LinkStream>();

  constructor(
    private readonly sink: StreamFrameSink,
    private readonly options: LinkStreamOptions = {},
  ) {}

  get size(): number {
    return this.streams.size;
  }

  /** Opens stream `id` at this end. Opening a number in use is a programming error. */
  open(id: number): LinkStream {
    if (this.streams.has(id)) throw new Error(`stream ${id} is already open`);
    const stream = new LinkStream(id, this.sink, this.options);
    this.streams.set(id, stream);
    stream.once('close', () => {
      if (this.streams.get(id) === stream) this.streams.delete(id);
    });
    return stream;
  }

  get(id: number): LinkStream | undefined {
    return this.streams.get(id);
  }

  /** Every open stream. */
  list(): LinkStream[] {
    return [...this.streams.values()];
  }

  /**
   * Routes a frame to its stream. Data for a stream this end does not know (e.g. closed a moment
   * ago) is answered with a reset, so the other end stops sending.
   */
  data(id: number, chunk: unknown): void {
    const stream = this.streams.get(id);
    if (!stream) {
      if (Number.isSafeInteger(id)) this.sink.reset(id, null);
      return;
    }
    if (!(chunk instanceof Uint8Array)) {
      stream.destroy(new StreamResetError({ kind: 'invalid-argument', message: `stream ${id}: data is not binary` }));
      return;
    }
    stream.receiveData(chunk);
  }

  end(id: number): void {
    this.streams.get(id)?.receiveEnd();
  }

  credit(id: number, bytes: unknown): void {
    if (typeof bytes === 'number') this.streams.get(id)?.receiveCredit(bytes);
  }

  reset(id: number, error: unknown): void {
    this.streams.get(id)?.receiveReset(asErrorBody(error));
  }

  /** The link is gone: every open stream fails with `error`. */
  closeAll(error: ErrorBody): void {
    for (const stream of [...this.streams.values()]) stream.receiveReset(error);
    this.streams.clear();
  }
}

function asErrorBody(value: unknown): ErrorBody | null {
  if (value === null || typeof value !== 'object') return null;
  const candidate = value as Partial<ErrorBody>;
  if (typeof candidate.message !== 'string') return null;
  return { kind: typeof candidate.kind === 'string' ? candidate.kind : 'internal', message: candidate.message };
}
