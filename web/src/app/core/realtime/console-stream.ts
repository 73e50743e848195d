import { STREAM_CHUNK_BYTES, STREAM_WINDOW_BYTES, type ErrorBody } from '@skiff/protocol';
import { Observable } from 'rxjs';

/** Where a stream sends its frames: the socket's emits. */
export interface StreamFrameSink {
  data(id: number, chunk: Uint8Array): void;
  end(id: number): void;
  credit(id: number, bytes: number): void;
  reset(id: number, error: ErrorBody | null): void;
}

/** A stream failed: the other end reset it with a reason, or the connection was lost. */
export class StreamError extends Error {
  constructor(readonly body: ErrorBody) {
    super(body.message);
    this.name = 'StreamError';
  }
}

const encoder = new TextEncoder();

/**
 * The browser's end of one numbered stream of the console socket, with the credit rules of the
 * Node implementation (`LinkStream`): this end never sends more than the credit the server gave
 * (one window at first), and it gives credit back only for bytes its consumer has taken, in
 * batches of at least a quarter window. A consumer that is paused or not yet subscribed takes
 * nothing, so the server stops after one window and nothing grows here beyond it.
 */
export class ConsoleStream {
  /** Bytes this end may still send. */
  private sendCredit = STREAM_WINDOW_BYTES;
  /** Bytes the server may still send us. */
  private receiveAllowance = STREAM_WINDOW_BYTES;
  /** Bytes the consumer took whose credit has not gone back yet. */
  private ungranted = 0;
  /** Received, not yet handed to the consumer. */
  private readonly inbox: Uint8Array[] = [];
  /** Written, waiting for credit. */
  private readonly outbox: Uint8Array[] = [];
  private consumer: { next(chunk: Uint8Array): void; complete(): void; error(error: Error): void } | undefined;
  private paused = false;
  private delivering = false;
  private endWanted = false;
  private endSent = false;
  private peerEnded = false;
  private failure: StreamError | undefined;
  private closed = false;

  constructor(
    readonly id: number,
    private readonly sink: StreamFrameSink,
    private readonly onClosed: (stream: ConsoleStream) => void,
  ) {}

  /**
   * What the server sends, chunk by chunk; completes when it ends its side, errors when it resets
   * the stream or the connection drops. One subscriber at a time: each chunk is taken (and its
   * credit may go back) when that subscriber's `next` returns.
   */
  readonly received: Observable<Uint8Array> = new Observable<Uint8Array>((subscriber) => {
    if (this.consumer) {
      subscriber.error(new Error(`stream ${this.id} already has a reader`));
      return undefined;
    }
    this.consumer = subscriber;
    this.deliver();
    return () => {
      if (this.consumer === subscriber) this.consumer = undefined;
    };
  });

  /** True once the stream is over both ways (or failed). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops taking chunks: the server stalls after one window. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.deliver();
  }

  /** Sends bytes (or UTF-8 text) as fast as the server's credit allows. */
  write(data: Uint8Array | string): void {
    if (this.closed || this.endWanted) return;
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    if (bytes.byteLength === 0) return;
    this.outbox.push(bytes);
    this.flush();
  }

  /** Half-closes: this end sends nothing more once what waits has gone out. */
  end(): void {
    if (this.closed || this.endWanted) return;
    this.endWanted = true;
    this.flush();
  }

  /** Abandons the stream both ways (a reset without error, unless it already finished). */
  close(): void {
    if (this.closed) return;
    if (!(this.endSent && this.peerEnded)) this.sink.reset(this.id, null);
    this.finish();
  }

  /** A `stream.data` frame arrived. */
  receiveData(chunk: Uint8Array): void {
    if (this.closed || this.peerEnded) return;
    if (chunk.byteLength > this.receiveAllowance) {
      const error: ErrorBody = { kind: 'invalid-argument', message: `stream ${this.id}: sent beyond its credit` };
      this.sink.reset(this.id, error);
      this.fail(error);
      return;
    }
    this.receiveAllowance -= chunk.byteLength;
    this.inbox.push(chunk);
    this.deliver();
  }

  receiveEnd(): void {
    if (this.closed || this.peerEnded) return;
    this.peerEnded = true;
    this.deliver();
  }

  receiveCredit(bytes: number): void {
    if (this.closed || !Number.isSafeInteger(bytes) || bytes <= 0) return;
    this.sendCredit += bytes;
    this.flush();
  }

  /** The server reset the stream (or the connection is gone): over both ways. */
  receiveReset(error: ErrorBody | null): void {
    if (this.closed) return;
    if (error) {
      this.fail(error);
      return;
    }
    // Abandoned after the server had finished its answer: what it sent is still read to the end.
    this.outbox.length = 0;
    this.endSent = true;
    if (this.peerEnded) {
      this.deliver();
      return;
    }
    this.fail({ kind: 'unavailable', message: 'the server closed the stream' });
  }

  private deliver(): void {
    // `next` may call back into the stream (pause, close); one loop at a time.
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (this.consumer && !this.paused && this.inbox.length > 0 && !this.closed) {
        const chunk = this.inbox.shift()!;
        this.consumer.next(chunk);
        this.ungranted += chunk.byteLength;
        this.grant();
      }
      if (this.failure && this.consumer) {
        this.consumer.error(this.failure);
        return;
      }
      if (this.peerEnded && this.inbox.length === 0 && this.consumer && !this.closed) {
        this.consumer.complete();
        if (this.endSent) this.finish();
      }
    } finally {
      this.delivering = false;
    }
  }

  /** Credit goes back once a quarter window has been taken, so the sender always has room to go on. */
  private grant(): void {
    if (this.closed || this.peerEnded || this.ungranted < STREAM_WINDOW_BYTES / 4) return;
    const bytes = this.ungranted;
    this.ungranted = 0;
    this.receiveAllowance += bytes;
    this.sink.credit(this.id, bytes);
  }

  private flush(): void {
    while (this.outbox.length > 0 && this.sendCredit > 0 && !this.closed) {
      const head = this.outbox[0];
      const size = Math.min(head.byteLength, this.sendCredit, STREAM_CHUNK_BYTES);
      this.sink.data(this.id, head.subarray(0, size));
      this.sendCredit -= size;
      if (size === head.byteLength) this.outbox.shift();
      else this.outbox[0] = head.subarray(size);
    }
    if (this.endWanted && !this.endSent && this.outbox.length === 0 && !this.closed) {
      this.endSent = true;
      this.sink.end(this.id);
      if (this.peerEnded && this.inbox.length === 0) this.finish();
    }
  }

  private fail(error: ErrorBody): void {
    this.failure = new StreamError(error);
    this.inbox.length = 0;
    this.outbox.length = 0;
    const consumer = this.consumer;
    this.finish();
    consumer?.error(this.failure);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox.length = 0;
    this.outbox.length = 0;
    this.onClosed(this);
  }
}

/** The open streams of one console socket by number. */
export class ConsoleStreamTable {
  private readonly streams = new Map<number, ConsoleStream>();
  private lastId = 0;

  constructor(private readonly sink: StreamFrameSink) {}

  get size(): number {
    return this.streams.size;
  }

  /** Opens a stream on a number never used before on this socket. */
  open(): ConsoleStream {
    this.lastId += 1;
    const stream = new ConsoleStream(this.lastId, this.sink, (closed) => {
      if (this.streams.get(closed.id) === closed) this.streams.delete(closed.id);
    });
    this.streams.set(stream.id, stream);
    return stream;
  }

  /** Routes a frame; data for a stream this end does not know is answered with a reset. */
  data(id: number, chunk: unknown): void {
    const stream = this.streams.get(id);
    const bytes = asBytes(chunk);
    if (!stream) {
      if (Number.isSafeInteger(id)) this.sink.reset(id, null);
      return;
    }
    if (!bytes) {
      const error: ErrorBody = { kind: 'invalid-argument', message: `stream ${id}: data is not binary` };
      this.sink.reset(id, error);
      stream.receiveReset(error);
      return;
    }
    stream.receiveData(bytes);
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

  /** Abandons every open stream (each sends its reset), e.g. before this end disconnects. */
  closeAll(): void {
    for (const stream of [...this.streams.values()]) stream.close();
  }

  /** The connection is gone: every open stream fails. */
  failAll(error: ErrorBody): void {
    for (const stream of [...this.streams.values()]) stream.receiveReset(error);
    this.streams.clear();
  }
}

/** Socket.IO hands binary to browsers as ArrayBuffer (Node sends Buffers). */
function asBytes(chunk: unknown): Uint8Array | undefined {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return undefined;
}

function asErrorBody(value: unknown): ErrorBody | null {
  if (value === null || typeof value !== 'object') return null;
  const candidate = value as Partial<ErrorBody>;
  if (typeof candidate.message !== 'string') return null;
  return { kind: typeof candidate.kind === 'string' ? candidate.kind : 'internal', message: candidate.message };
}
