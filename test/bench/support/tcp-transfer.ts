import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { BUSYBOX_PATH } from '../../support/busybox-image.js';
import { nowMs } from './latency-sample.js';

const CHUNK = Buffer.alloc(1 << 20, 0x5a);
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/**
 * Sends `bytes` to a TCP sink, half-closes, and waits until the sink closes its side: the time
 * from the connect to the sink's close, so that what the sink has not read yet is counted (a
 * sender alone finishes when the last byte is in its socket buffer). 1 MiB writes, as fast as the
 * connection drains. Rejects when the connection fails or is reset before the sink has it all.
 */
export function sendToSink(host: string, port: number, bytes: number, timeoutMs = 120_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const startedAt = nowMs();
    const socket = connect({ host, port });
    let failure: Error | undefined;
    const timer = setTimeout(
      () => socket.destroy(new Error(`sending ${bytes} bytes to ${host}:${port} took over ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    socket.on('error', (error) => (failure = error));
    socket.on('data', () => undefined); // The sink answers nothing; reading lets its FIN arrive.
    socket.once('connect', () => {
      let left = bytes;
      const pump = () => {
        while (left > 0) {
          const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
          left -= chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.end();
      };
      pump();
    });
    socket.once('close', () => {
      const elapsed = nowMs() - startedAt;
      clearTimeout(timer);
      if (failure) reject(new Error(`sending to ${host}:${port} failed: ${failure.message}`));
      else if (socket.bytesWritten < bytes)
        reject(new Error(`${host}:${port} closed after ${socket.bytesWritten} of ${bytes} bytes`));
      else resolve(elapsed);
    });
  });
}

/** Waits until a sink at host:port takes a small transfer whole (a container's listener starting, a proxy's upstream). */
export async function waitForSink(host: string, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await sendToSink(host, port, 1 << 16, 5_000);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

/**
 * A busybox TCP sink: `nc -ll` accepts for ever and runs `dd` per connection, which reads to EOF,
 * drops it all and exits, closing the connection. `address`: bind to it (busybox nc takes it
 * before -e), rather than to every address.
 */
export function busyboxSinkCommand(port: number, address?: string): string[] {
  return ['nc', '-ll', '-p', String(port), ...(address ? [address] : []), '-e', 'dd', 'of=/dev/null', 'bs=1M'];
}

/** The Node.js sink of the loopback baseline: reads and drops everything, closes after the sender's end. */
const NODE_SINK_SOURCE = `
import { createServer } from 'node:net';
const server = createServer({ allowHalfOpen: true }, (socket) => {
  socket.on('data', () => undefined);
  socket.on('end', () => socket.end());
  socket.on('error', () => socket.destroy());
});
server.listen({ host: '127.0.0.1', port: 0 }, () => process.stdout.write(server.address().port + '\\n'));
`;

/** A port no one listens on now, on 127.0.0.1 (the kernel's pick; free again when this returns). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * A TCP sink on the host's 127.0.0.1, in a process of its own (so that it does not share the
 * sender's event loop, as a container's sink does not): plain loopback, no proxy, bridge or
 * namespace on the way. `busybox` runs the containers' sink (`nc -ll … -e dd of=/dev/null bs=1M`,
 * bound to 127.0.0.1), `node` a Node.js server that drops what it reads.
 */
export class LoopbackSink {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(kind: 'busybox' | 'node'): Promise<LoopbackSink> {
    if (kind === 'busybox') {
      const port = await freeLoopbackPort();
      const child = spawn(BUSYBOX_PATH, busyboxSinkCommand(port, '127.0.0.1'), { stdio: 'ignore' });
      child.once('error', () => undefined); // waitForSink then fails, with the reason
      return new LoopbackSink(child, port);
    }
    const child = spawn(process.execPath, ['--input-type=module', '-e', NODE_SINK_SOURCE], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return new Promise((resolve, reject) => {
      let output = '';
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`the loopback sink exited (${code ?? signal})`)));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        const line = output.split('\n');
        if (line.length > 1) resolve(new LoopbackSink(child, Number(line[0])));
      });
    });
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    return exited;
  }
}
