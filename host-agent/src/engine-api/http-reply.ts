import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import type { EngineReply } from './engine-router.js';
import { JsonLinesWriter } from './json-lines-writer.js';

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** How an answer is going out, so that a failure half-way can be told to the client as well as it can. */
export type AnswerState = 'none' | 'complete' | 'stream' | 'json-lines';

/** EngineReply over a Node ServerResponse: the local door. */
export class HttpEngineReply implements EngineReply {
  private state: AnswerState = 'none';
  private writer: JsonLinesWriter | undefined;

  constructor(private readonly res: ServerResponse) {}

  get sent(): boolean {
    return this.state !== 'none';
  }

  get answerState(): AnswerState {
    return this.state;
  }

  /** The writer handed out by jsonLines(), if any. */
  get jsonLinesWriter(): JsonLinesWriter | undefined {
    return this.writer;
  }

  setHeader(name: string, value: string): void {
    this.res.setHeader(name, value);
  }

  json(status: number, value: unknown): void {
    this.complete(status, Buffer.from(`${JSON.stringify(value)}\n`), 'application/json');
  }

  empty(status: number): void {
    this.claim('complete');
    this.res.statusCode = status;
    // A 204 says nothing about length; other statuses say 0 so the client does not wait for a body.
    if (status !== 204 && status !== 304) this.res.setHeader('Content-Length', '0');
    this.res.end();
  }

  text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
    this.complete(status, Buffer.from(body), contentType);
  }

  stream(status: number, contentType?: string): Writable {
    this.claim('stream');
    this.res.statusCode = status;
    if (contentType !== undefined) this.res.setHeader('Content-Type', contentType);
    // Clients wait for the head before they show anything (docker logs -f, docker wait).
    this.res.flushHeaders();
    return this.res;
  }

  jsonLines(status = 200): JsonLinesWriter {
    this.claim('json-lines');
    this.res.statusCode = status;
    this.res.setHeader('Content-Type', 'application/json');
    this.res.flushHeaders();
    this.writer = new JsonLinesWriter(this.res);
    return this.writer;
  }

  private complete(status: number, body: Buffer, contentType: string): void {
    this.claim('complete');
    this.res.statusCode = status;
    this.res.setHeader('Content-Type', contentType);
    this.res.setHeader('Content-Length', String(body.length));
    this.res.end(body);
  }

  private claim(next: AnswerState): void {
    if (this.state !== 'none') throw new Error(`engine reply: the answer was already started (${this.state})`);
    this.state = next;
  }
}

/**
 * EngineReply written straight onto a connection that Node has handed over after an `Upgrade`
 * request: used to refuse an attach or exec start (404, 409, …) or to answer one that needs no
 * stream. The connection closes after the answer.
 */
export class RawSocketReply implements EngineReply {
  private state: AnswerState = 'none';
  private readonly headers = new Map<string, string>();

  constructor(
    private readonly socket: Duplex,
    baseHeaders: HeaderList,
  ) {
    for (const [name, value] of baseHeaders) this.headers.set(name, value);
  }

  get sent(): boolean {
    return this.state !== 'none';
  }

  setHeader(name: string, value: string): void {
    this.headers.set(name, value);
  }

  json(status: number, value: unknown): void {
    this.complete(status, Buffer.from(`${JSON.stringify(value)}\n`), 'application/json');
  }

  empty(status: number): void {
    this.complete(status, Buffer.alloc(0), undefined);
  }

  text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
    this.complete(status, Buffer.from(body), contentType);
  }

  stream(status: number, contentType?: string): Writable {
    this.claim('stream');
    if (contentType !== undefined) this.headers.set('Content-Type', contentType);
    // No length and no chunking: the body runs until the connection closes.
    this.socket.write(head(status, this.headers, [['Connection', 'close']]));
    return this.socket;
  }

  jsonLines(status = 200): JsonLinesWriter {
    return new JsonLinesWriter(this.stream(status, 'application/json'));
  }

  private complete(status: number, body: Buffer, contentType: string | undefined): void {
    this.claim('complete');
    if (contentType !== undefined) this.headers.set('Content-Type', contentType);
    const length: [string, string][] = status === 204 ? [] : [['Content-Length', String(body.length)]];
    this.socket.end(
      Buffer.concat([Buffer.from(head(status, this.headers, [...length, ['Connection', 'close']])), body]),
    );
  }

  private claim(next: AnswerState): void {
    if (this.state !== 'none') throw new Error(`engine reply: the answer was already started (${this.state})`);
    this.state = next;
  }
}

/** An HTTP/1.1 response head: status line, headers, blank line. */
export function head(
  status: number,
  headers: ReadonlyMap<string, string> | HeaderList,
  extra: HeaderList = [],
  reason = STATUS_CODES[status] ?? 'Unknown',
): string {
  const lines = [`HTTP/1.1 ${status} ${reason}`];
  for (const [name, value] of [...headers, ...extra]) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
