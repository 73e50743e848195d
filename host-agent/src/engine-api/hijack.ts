import type { ServerResponse } from 'node:http';
import { Duplex, Readable } from 'node:stream';
import { invalidArgument } from '../engine-error.js';
import type { HijackedStream } from './engine-router.js';
import { head, type HeaderList } from './http-reply.js';

/**
 * Attach and exec start take over their connection. A client that sends `Connection: Upgrade` and
 * `Upgrade: tcp` (the docker CLI, docker-py, dockerode) gets `101 UPGRADED`; one that does not
 * (curl) gets a plain `200 OK` followed by the raw stream, as from dockerd.
 */
export const RAW_STREAM_CONTENT_TYPE = 'application/vnd.docker.raw-stream';

/** The head of an upgraded answer. `headers` are the engine's usual ones (Api-Version, Server…), or none. */
export function upgradeHead(headers: HeaderList): string {
  return head(
    101,
    [['Content-Type', RAW_STREAM_CONTENT_TYPE], ['Connection', 'Upgrade'], ['Upgrade', 'tcp'], ...headers],
    [],
    'UPGRADED',
  );
}

export interface UpgradeBody {
  /** The request's own body (exec start sends `{"Detach":false,"Tty":false}`). */
  body: Buffer;
  /** What the client sent after the body: the first bytes of its input stream. */
  rest: Buffer;
}

/**
 * Node hands over an upgraded connection right after the request head, with whatever followed in
 * `head`, body included. Splits `Content-Length` bytes of body off the front, reading on from the
 * socket when `head` holds less; leaves the socket paused.
 */
export async function readUpgradeBody(
  socket: Duplex,
  head: Buffer,
  contentLength: number,
  limit: number,
): Promise<UpgradeBody> {
  if (contentLength > limit) throw invalidArgument(`request body is larger than ${limit} bytes`);
  if (head.length >= contentLength) {
    return { body: head.subarray(0, contentLength), rest: head.subarray(contentLength) };
  }
  return new Promise<UpgradeBody>((resolve, reject) => {
    const chunks: Buffer[] = [head];
    let size = head.length;
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.pause();
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size < contentLength) return;
      cleanup();
      const all = Buffer.concat(chunks, size);
      resolve({ body: all.subarray(0, contentLength), rest: all.subarray(contentLength) });
    };
    const onEnd = () => {
      cleanup();
      reject(invalidArgument(`request body ended after ${size} of ${contentLength} bytes`));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
  });
}

/**
 * Sends `101 UPGRADED` and gives the connection to the handler, with `rest` (bytes the client
 * sent after its request) put back in front of its input.
 */
export function acceptUpgraded(socket: Duplex, rest: Buffer, headers: HeaderList): HijackedStream {
  socket.write(upgradeHead(headers));
  if (rest.length > 0) socket.unshift(rest);
  // Neither paused nor flowing: the handler's first 'data' listener, pipe or read starts the flow,
  // as for a socket that Node hands over itself (Node's http server sets it the same way; the
  // typings call the property read-only though Readable defines a setter).
  (socket as { readableFlowing: boolean | null }).readableFlowing = null;
  return { socket, upgraded: true };
}

/**
 * The plain form: `200 OK` with the raw stream as a body that runs until the connection closes.
 * Node keeps parsing the connection as HTTP, so this form carries output only: the handler's
 * input side is empty, as if the client had half-closed at once.
 */
export function acceptPlain(res: ServerResponse): HijackedStream {
  // Neither a length nor chunking: dockerd writes the stream bare and closes at the end.
  res.removeHeader('Transfer-Encoding');
  res.writeHead(200, { 'Content-Type': RAW_STREAM_CONTENT_TYPE, Connection: 'close' });
  res.flushHeaders();
  const socket = Duplex.from({ readable: Readable.from([]), writable: res });
  return { socket, upgraded: false };
}
