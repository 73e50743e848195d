/**
 * Layers and archives arrive plain or compressed, and the media type is not always right (a
 * docker-save archive never says): the first bytes decide, as in moby's DetectCompression.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

import { invalidArgument } from '../engine-error.js';
import { zstdDecompress } from './zstd-stream.js';

export type Compression = 'none' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

const MAGIC: readonly { compression: Exclude<Compression, 'none'>; bytes: readonly number[] }[] = [
  { compression: 'gzip', bytes: [0x1f, 0x8b, 0x08] },
  { compression: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { compression: 'bzip2', bytes: [0x42, 0x5a, 0x68] },
  { compression: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
];

const GUNZIP_CHUNK_BYTES = 512 * 1024;

/** The longest magic number; reading this many bytes is enough to decide. */
export const MAGIC_LENGTH = 6;

export function detectCompression(head: Uint8Array): Compression {
  for (const { compression, bytes } of MAGIC) {
    if (head.length >= bytes.length && bytes.every((byte, index) => head[index] === byte)) return compression;
  }
  return 'none';
}

export interface Decompressed {
  compression: Compression;
  /** The uncompressed bytes. */
  stream: Readable;
}

/**
 * Peeks at the start of `source` and returns its uncompressed bytes. `what` names the stream in
 * errors (`layer sha256:…`). gzip is handled by node:zlib, zstd by zstd-stream.ts; bzip2 and xz
 * are refused with a clear message rather than being mistaken for a broken tar.
 */
export async function decompress(source: AsyncIterable<Uint8Array>, what: string): Promise<Decompressed> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < MAGIC_LENGTH) {
    const next = await iterator.next();
    if (next.done === true) {
      done = true;
      break;
    }
    const chunk = asBuffer(next.value);
    head.push(chunk);
    headLength += chunk.length;
  }
  const first = Buffer.concat(head);
  const compression = detectCompression(first);
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      if (first.length > 0) yield first;
      while (!done) {
        const next = await iterator.next();
        if (next.done === true) {
          done = true;
          return;
        }
        yield asBuffer(next.value);
      }
    } finally {
      // Stopped early (an error downstream): let the source close its file or socket.
      if (!done) await iterator.return?.();
    }
  }
  const raw = Readable.from(replay(), { objectMode: false });
  switch (compression) {
    case 'none':
      return { compression, stream: raw };
    case 'gzip': {
      // Each output buffer's worth is one trip through the thread pool: with 512 KiB a 200 MB
      // layer set takes 400 trips instead of 1600, and measured 6 % faster to pull than 128 KiB.
      const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
      raw.on('error', (error) => gunzip.destroy(error));
      gunzip.on('error', () => raw.destroy());
      return { compression, stream: raw.pipe(gunzip) };
    }
    case 'zstd':
      return { compression, stream: Readable.from(zstdDecompress(raw, what), { objectMode: false }) };
    case 'bzip2':
    case 'xz':
      await iterator.return?.();
      throw invalidArgument(
        `${what} is compressed with ${compression}, which is not supported yet (use gzip, zstd or no compression)`,
      );
  }
}

/** The same bytes as a Buffer, without copying them (Buffer.from of a Uint8Array copies). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
