import type { EngineCallHead } from '@skiff/protocol';
import { StreamResetError, type LinkStream } from '@skiff/protocol/link-stream';
import { Transform } from 'node:stream';
import { engineMessage } from './engine-proxy.service.js';

/** Answer headers of the engine worth passing on; the rest are the hop's own. */
const PASSED_ANSWER_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-disposition',
  'api-version',
  'docker-experimental',
  'ostype',
  'server',
  'x-docker-container-path-stat',
]);

/** Request headers the engine needs; the caller's credentials and the hop's headers never go on. */
const PASSED_REQUEST_HEADERS = ['content-type', 'x-registry-auth', 'x-registry-config', 'content-length'];

export function answerHeaders(head: EngineCallHead): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(head.headers)) {
    if (PASSED_ANSWER_HEADERS.has(name.toLowerCase())) headers[name] = value;
  }
  return headers;
}

export function requestHeaders(get: (name: string) => string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of PASSED_REQUEST_HEADERS) {
    const value = get(name);
    if (value !== undefined) headers[name] = value;
  }
  return headers;
}

/**
 * Applies a list filter to a JSON answer: one document (`/system/df`) or one per line (`/events`).
 * Lines it drops vanish; the answer's length changes, so the caller drops Content-Length.
 */
export function filterJsonLines(filter: (document: unknown) => unknown): Transform {
  let pending = '';
  const emit = (line: string, push: (text: string) => void) => {
    if (line.trim() === '') return;
    let kept: unknown;
    try {
      kept = filter(JSON.parse(line));
    } catch {
      return; // A line the engine did not finish or a filter cannot read is not shown at all.
    }
    if (kept !== undefined) push(`${JSON.stringify(kept)}\n`);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) emit(line, (text) => this.push(text));
      callback();
    },
    flush(callback) {
      emit(pending, (text) => this.push(text));
      callback();
    },
  });
}

/**
 * Keeps the first bytes of an answer that passes through, so the audit record can name what a
 * create made (`{"Id":…}`) or why a call failed (`{"message":…}`).
 */
export class AnswerSample {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit = 64 * 1024) {}

  take(chunk: Buffer): void {
    if (this.size >= this.limit) return;
    const part = chunk.subarray(0, this.limit - this.size);
    this.chunks.push(part);
    this.size += part.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  createdId(): string | null {
    try {
      const id = (JSON.parse(this.text()) as { Id?: unknown }).Id;
      return typeof id === 'string' ? id : null;
    } catch {
      return null;
    }
  }

  errorMessage(status: number): string {
    return engineMessage(this.text(), status);
  }
}

/** The message of a stream failure as the caller should see it. */
export function streamFailure(error: unknown): string {
  if (error instanceof StreamResetError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

export type { LinkStream };
