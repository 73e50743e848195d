import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { BenchPlane } from './bench-plane.js';

/**
 * A way in to a host's Docker Engine API: the agent's own unix socket (the local door), or the
 * server's proxy with an API token or a browser session. The same Engine API path works through
 * each; only where it is sent and with which credentials differ.
 */
export interface EngineDoor {
  label: string;
  /** `http.request` options for an Engine API path (`/v1.41/...`) through this door. */
  options(method: string, path: string): http.RequestOptions;
  /** A new connection to the door, for a call that takes it over (`Upgrade: tcp`). */
  connect(): net.Socket;
  /** The request line's target and the headers of a raw call, for an Engine API path. */
  raw(path: string): { target: string; headers: Record<string, string> };
}

export function localDoor(socketPath: string): EngineDoor {
  return {
    label: 'local socket',
    options: (method, path) => ({ socketPath, method, path }),
    connect: () => net.connect(socketPath),
    raw: (path) => ({ target: path, headers: { Host: 'docker' } }),
  };
}

export function serverDoor(plane: BenchPlane, credential: 'token' | 'session'): EngineDoor {
  const url = new URL(plane.baseUrl);
  const headers: Record<string, string> =
    credential === 'token'
      ? { Authorization: `Bearer ${plane.apiToken}` }
      : { Cookie: plane.admin.cookie, 'X-CSRF-Token': plane.admin.csrfToken };
  return {
    label: credential === 'token' ? 'server, API token' : 'server, session cookie',
    options: (method, path) => ({
      host: url.hostname,
      port: Number(url.port),
      method,
      path: `${plane.enginePrefix}${path}`,
      headers,
    }),
    connect: () => net.connect(Number(url.port), url.hostname),
    raw: (path) => ({ target: `${plane.enginePrefix}${path}`, headers: { Host: url.host, ...headers } }),
  };
}

/** Makes a call and reads its whole answer. */
export function request(
  door: EngineDoor,
  method: string,
  path: string,
  options: { agent?: http.Agent; body?: unknown } = {},
): Promise<{ status: number; body: Buffer }> {
  const json = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const base = door.options(method, path);
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        ...base,
        agent: options.agent,
        headers: {
          ...base.headers,
          ...(json ? { 'Content-Type': 'application/json', 'Content-Length': String(json.length) } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
        response.once('error', reject);
      },
    );
    outgoing.once('error', reject);
    outgoing.end(json);
  });
}

/** Makes a call and reads its answer as JSON; fails unless the status is 2xx. */
export async function requestJson<T>(door: EngineDoor, method: string, path: string, body?: unknown): Promise<T> {
  const answer = await request(door, method, path, { body });
  const text = answer.body.toString('utf8');
  if (answer.status < 200 || answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Starts a call whose answer streams (a followed log); resolves with the answer once its head is in. */
export function openStream(door: EngineDoor, path: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request({ ...door.options('GET', path), agent: false }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`GET ${path} through the ${door.label}: ${response.statusCode}`));
        return;
      }
      resolve(response);
    });
    outgoing.once('error', reject);
    outgoing.end();
  });
}

/**
 * Makes a call with `Upgrade: tcp` as the docker CLI does for attach and exec start, and resolves
 * with the raw connection once the answer is `101`; output that came with the head is kept on it.
 */
export function openUpgraded(door: EngineDoor, path: string, body: unknown): Promise<Duplex> {
  const json = JSON.stringify(body);
  const { target, headers } = door.raw(path);
  const socket = door.connect();
  socket.setNoDelay(true);
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const head = received.subarray(0, end).toString('latin1');
      if (!/^HTTP\/1\.1 101/.test(head)) {
        socket.destroy();
        reject(new Error(`POST ${path} through the ${door.label}: ${head.split('\r\n')[0]}`));
        return;
      }
      if (received.length > end + 4) socket.unshift(received.subarray(end + 4));
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(
      [
        `POST ${target} HTTP/1.1`,
        ...Object.entries({
          ...headers,
          'Content-Type': 'application/json',
          'Content-Length': String(Buffer.byteLength(json)),
          Connection: 'Upgrade',
          Upgrade: 'tcp',
        }).map(([name, value]) => `${name}: ${value}`),
        '',
        json,
      ].join('\r\n'),
    );
  });
}
