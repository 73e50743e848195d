import type { Readable } from 'node:stream';
import { invalidArgument } from '../engine-error.js';

/** The most a JSON request body may hold; a create body is a few KiB. */
export const MAX_JSON_BODY_BYTES = 10 * 1024 * 1024;

/** Reads a whole body, failing with invalid-argument (400) past `limit` bytes. */
export async function readBody(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buffer.length;
    if (size > limit) {
      body.destroy();
      throw invalidArgument(`request body is larger than ${formatBytes(limit)}`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

/**
 * A JSON body as a value, or undefined for an empty one (dockerd treats `start` with no body and
 * with `{}` alike). Unknown fields are the handler's to ignore: newer clients send newer fields.
 */
export function parseJsonBody(bytes: Buffer): unknown {
  const text = bytes.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const detail = error instanceof SyntaxError ? `: ${error.message}` : '';
    throw invalidArgument(`malformed JSON in request body${detail}`);
  }
}

function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}
