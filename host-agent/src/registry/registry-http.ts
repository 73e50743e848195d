/**
 * HTTP(S) to registries with node:http: keep-alive connections, an idle timeout, optional TLS
 * without certificate checks (insecure registries), redirects (blob downloads are often sent to
 * a CDN; the Authorization header never follows to another origin) and bounded body reads.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';

import { EngineError, invalidArgument, unavailable } from '../engine-error.js';
import { errorMessage } from '../error-message.js';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  url: URL;
  headers?: Record<string, string>;
  /** A Buffer, or a stream whose length is in Content-Length. */
  body?: Buffer | Readable;
  skipTlsVerify?: boolean;
  signal?: AbortSignal;
  /** How many redirects to follow (GET and HEAD only); 0 by default. */
  redirects?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** Where the answer came from, after redirects. */
  url: URL;
}

/** A connection that says nothing for this long is given up. */
const IDLE_TIMEOUT_MS = 60_000;
export const USER_AGENT = 'skiff-agent (docker-compatible engine)';

/** An error of the connection itself (refused, reset, TLS, timeout): the next endpoint may work. */
export class ConnectionError extends EngineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
    this.name = 'ConnectionError';
  }
}

export class RegistryHttp {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 32 });
  private readonly httpsInsecure = new HttpsAgent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: false });
  private closed = false;

  async send(request: HttpRequest): Promise<HttpResponse> {
    // A destroyed agent would quietly open new connections: after close there are none.
    if (this.closed) throw unavailable('the engine is shutting down');
    let url = request.url;
    let headers = { ...request.headers };
    for (let hop = 0; ; hop += 1) {
      const response = await this.once({ ...request, url, headers });
      const location = response.headers.location;
      const redirect = [301, 302, 303, 307, 308].includes(response.status) && location !== undefined;
      if (!redirect || hop >= (request.redirects ?? 0) || (request.method !== 'GET' && request.method !== 'HEAD')) {
        return response;
      }
      response.body.resume();
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw invalidArgument(`the registry redirected to an unsupported URL scheme ${next.protocol}`);
      }
      if (next.origin !== url.origin) {
        // Credentials are for the registry, not for the storage it sends us to.
        headers = Object.fromEntries(
          Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'),
        );
      }
      url = next;
    }
  }

  private once(request: HttpRequest & { headers: Record<string, string> }): Promise<HttpResponse> {
    const secure = request.url.protocol === 'https:';
    const agent = !secure ? this.http : request.skipTlsVerify === true ? this.httpsInsecure : this.https;
    const send = secure ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...request.headers };
    if (Buffer.isBuffer(request.body)) headers['Content-Length'] = String(request.body.length);
    else if (request.body === undefined && ['POST', 'PUT', 'PATCH'].includes(request.method))
      headers['Content-Length'] = '0';
    return new Promise<HttpResponse>((resolve, reject) => {
      const outgoing = send(request.url, {
        method: request.method,
        headers,
        agent,
        ...(request.signal ? { signal: request.signal } : {}),
      });
      const where = `${request.method} ${request.url.origin}${request.url.pathname}`;
      outgoing.setTimeout(IDLE_TIMEOUT_MS, () =>
        outgoing.destroy(new ConnectionError(`${where}: no answer for ${IDLE_TIMEOUT_MS / 1000} s`)),
      );
      outgoing.on('response', (incoming) => {
        incoming.on('error', () => undefined);
        // The idle timeout keeps guarding the body as it streams.
        incoming.setTimeout?.(IDLE_TIMEOUT_MS, () =>
          incoming.destroy(new ConnectionError(`${where}: the answer stalled for ${IDLE_TIMEOUT_MS / 1000} s`)),
        );
        resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: incoming, url: request.url });
      });
      outgoing.on('error', (error) => {
        if (request.signal?.aborted === true) reject(aborted(request.signal));
        else if (error instanceof EngineError) reject(error);
        else reject(new ConnectionError(`${where}: ${errorMessage(error)}${connectionHint(error, request.url)}`));
      });
      if (request.body === undefined) outgoing.end();
      else if (Buffer.isBuffer(request.body)) outgoing.end(request.body);
      else {
        const body = request.body;
        body.on('error', (error) => outgoing.destroy(error));
        body.pipe(outgoing);
      }
    });
  }

  /** Destroys every connection, idle or busy (a request still running fails). */
  close(): void {
    this.closed = true;
    this.http.destroy();
    this.https.destroy();
    this.httpsInsecure.destroy();
  }
}

/** What to do about the usual reasons a registry cannot be reached. */
export function connectionHint(error: unknown, url: URL): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return (
        ` (the name ${url.hostname} does not resolve on this host: check its DNS, or for Docker Hub set a ` +
        'mirror in "registry-mirrors" of registries.json in the engine\'s root)'
      );
    case 'ECONNREFUSED':
      return ` (nothing listens on ${url.host}: check the registry's address and port)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return ` (${url.host} cannot be reached from this host: check its network and firewall)`;
    default:
      return '';
  }
}

/** The error an aborted operation ends with. */
export function aborted(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : unavailable('the operation was cancelled');
}

/** Reads a whole body of at most `limit` bytes. */
export async function readBody(response: HttpResponse, limit: number, what: string): Promise<Buffer> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    response.body.destroy();
    throw invalidArgument(`${what} is too large: ${declared} bytes, the limit is ${limit}`);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of response.body) {
      length += (chunk as Buffer).length;
      if (length > limit) {
        response.body.destroy();
        throw invalidArgument(`${what} is too large: over the limit of ${limit} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new ConnectionError(`cannot read ${what}: ${errorMessage(error)}`);
  }
  return Buffer.concat(chunks);
}

/** Drops a body that is not needed, keeping the connection reusable. */
export function discard(response: HttpResponse): void {
  response.body.resume();
}

export function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
