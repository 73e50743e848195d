import type { EngineCall, EngineCallHead, ErrorBody } from '@skiff/protocol';
import { LinkStreamTable, type LinkStream } from '@skiff/protocol/link-stream';
import type { Readable } from 'node:stream';
import type { DoorRequests, PlaneDoor, PlaneSession } from '../../host-agent/src/plane/plane-session.js';

type Frame = ['engine.head', EngineCallHead] | ['stream.reset', number, ErrorBody | null] | ['stream.end', number];

/**
 * The server's end of a link to a door, in memory: a stream table of its own whose frames reach
 * the door on the next turn of the event loop, as over a socket, and the door's frames back.
 */
export class DoorLink {
  readonly frames: Frame[] = [];
  readonly table: LinkStreamTable;
  readonly requests: DoorRequests;
  private readonly closed = new AbortController();
  private readonly heads = new Map<number, (head: EngineCallHead) => void>();
  private nextId = 1;

  constructor(door: PlaneDoor) {
    const toDoor = (deliver: () => void) => setImmediate(() => !this.closed.signal.aborted && deliver());
    this.table = new LinkStreamTable({
      data: (id, chunk) => {
        const copy = Uint8Array.from(chunk);
        toDoor(() => this.requests['stream.data'](id, copy));
      },
      end: (id) => toDoor(() => this.requests['stream.end'](id)),
      credit: (id, bytes) => toDoor(() => this.requests['stream.credit'](id, bytes)),
      reset: (id, error) => toDoor(() => this.requests['stream.reset'](id, error)),
    });
    const session: PlaneSession = {
      emit: (event, ...args) => {
        if (this.closed.signal.aborted) return;
        const [first, second] = args as unknown[];
        setImmediate(() => this.receive(event, first, second));
      },
      closed: this.closed.signal,
    };
    this.requests = door.open(session);
  }

  /** Starts a call the way the server's proxy does; the head rejects if the stream fails before it. */
  call(call: Omit<EngineCall, 'stream'>): { stream: LinkStream; head: Promise<EngineCallHead> } {
    const id = this.nextId++;
    const stream = this.table.open(id);
    const head = new Promise<EngineCallHead>((resolve, reject) => {
      this.heads.set(id, resolve);
      stream.once('error', reject);
      stream.once('close', () => reject(new Error(`stream ${id} closed before its head`)));
    });
    head.catch(() => undefined);
    stream.on('error', () => undefined);
    setImmediate(() => this.requests['engine.call']({ ...call, stream: id }));
    // The server's proxy ends its side at once when there is no body.
    if (!call.body) stream.end();
    return { stream, head };
  }

  /** The connection drops. */
  disconnect(): void {
    this.closed.abort();
    this.table.closeAll({ kind: 'unavailable', message: 'the host disconnected' });
  }

  resetsOf(id: number): Array<ErrorBody | null> {
    return this.frames.flatMap((frame) => (frame[0] === 'stream.reset' && frame[1] === id ? [frame[2]] : []));
  }

  private receive(event: string, first: unknown, second: unknown): void {
    switch (event) {
      case 'engine.head': {
        const head = first as EngineCallHead;
        this.frames.push(['engine.head', head]);
        this.heads.get(head.stream)?.(head);
        return;
      }
      case 'stream.data':
        this.table.data(first as number, second);
        return;
      case 'stream.end':
        this.frames.push(['stream.end', first as number]);
        this.table.end(first as number);
        return;
      case 'stream.credit':
        this.table.credit(first as number, second);
        return;
      case 'stream.reset':
        this.frames.push(['stream.reset', first as number, second as ErrorBody | null]);
        this.table.reset(first as number, second);
        return;
    }
  }
}

/** Reads a stream to its end without destroying it (an async iterator would). */
export function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}
