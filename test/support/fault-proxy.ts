/**
 * A TCP proxy in front of a real registry that plays a bad network: it can cut a connection
 * once a number of bytes went back to the client, and slow answers down. It keeps the request
 * heads it saw (plain HTTP), so a test can tell that a download was resumed with a Range.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface FaultOptions {
  /** Cut this many connections, each once it has sent this many bytes back. */
  cut?: { afterBytes: number; times: number };
  /** Bytes per second back to the client. */
  bytesPerSecond?: number;
}

export class FaultProxy {
  readonly requests: string[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly host: string,
    private readonly options: FaultOptions,
  ) {}

  static async start(upstream: string, options: FaultOptions): Promise<FaultProxy> {
    const [upstreamHost = '127.0.0.1', upstreamPort] = upstream.split(':');
    const handlers: { handle?: (client: Socket) => void } = {};
    const server = createServer((client) => handlers.handle?.(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const proxy = new FaultProxy(server, `127.0.0.1:${port}`, options);
    handlers.handle = (client) => proxy.handle(client, upstreamHost, Number(upstreamPort));
    return proxy;
  }

  private handle(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    this.sockets.add(client).add(upstream);
    let sent = 0;
    let cut = false;
    const cutRule = this.options.cut;
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (/^(GET|HEAD|POST|PUT|PATCH) /.test(text)) this.requests.push(text.split('\r\n\r\n')[0] ?? '');
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cut) return;
      sent += chunk.length;
      if (cutRule !== undefined && cutRule.times > 0 && sent > cutRule.afterBytes) {
        cutRule.times -= 1;
        cut = true;
        client.destroy();
        upstream.destroy();
        return;
      }
      const rate = this.options.bytesPerSecond;
      if (rate === undefined) {
        client.write(chunk);
        return;
      }
      upstream.pause();
      client.write(chunk);
      setTimeout(() => upstream.resume(), (chunk.length / rate) * 1000);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
