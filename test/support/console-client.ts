import {
  CONSOLE_NAMESPACE,
  type ConsoleClientEvents,
  type ConsoleEngineOpen,
  type ConsoleEngineOpenResult,
  type ConsoleEvents,
  type EngineCallHead,
} from '@skiff/protocol';
import { type LinkStream, LinkStreamTable } from '@skiff/protocol/link-stream';
import { io, type Socket } from 'socket.io-client';
import type { Session } from './test-server.js';

/**
 * A console's side of the `/console` socket, as the browser speaks it: Engine API calls whose
 * answers arrive on numbered streams with flow control, and the fleet event feed.
 */
export class ConsoleClient {
  readonly streams: LinkStreamTable;
  private nextStream = 1;

  private constructor(readonly socket: Socket<ConsoleEvents, ConsoleClientEvents>) {
    this.streams = new LinkStreamTable({
      data: (id, chunk) => socket.emit('stream.data', id, chunk),
      end: (id) => socket.emit('stream.end', id),
      credit: (id, bytes) => socket.emit('stream.credit', id, bytes),
      reset: (id, error) => socket.emit('stream.reset', id, error),
    });
    socket.on('stream.data', (id, chunk) => this.streams.data(id, chunk));
    socket.on('stream.end', (id) => this.streams.end(id));
    socket.on('stream.credit', (id, bytes) => this.streams.credit(id, bytes));
    socket.on('stream.reset', (id, error) => this.streams.reset(id, error));
  }

  static async connect(baseUrl: string, session: Session): Promise<ConsoleClient> {
    const socket: Socket<ConsoleEvents, ConsoleClientEvents> = io(`${baseUrl}${CONSOLE_NAMESPACE}`, {
      transports: ['websocket'],
      extraHeaders: { cookie: session.cookie },
      forceNew: true,
      reconnection: false,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return new ConsoleClient(socket);
  }

  /** Makes an Engine API call; resolves with its head and the stream its answer arrives on. */
  async open(request: Omit<ConsoleEngineOpen, 'stream'>): Promise<{ head: EngineCallHead; stream: LinkStream }> {
    const id = this.nextStream++;
    const stream = this.streams.open(id);
    const result: ConsoleEngineOpenResult = await this.socket.emitWithAck('engine.open', { ...request, stream: id });
    if (!result.ok) {
      stream.destroy();
      throw Object.assign(new Error(result.error.message), { kind: result.error.kind });
    }
    return { head: result.head, stream };
  }

  close(): void {
    this.socket.disconnect();
  }
}
