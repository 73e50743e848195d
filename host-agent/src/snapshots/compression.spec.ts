import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { decompress, detectCompression } from './compression.js';

async function* pieces(...parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield await Promise.resolve(part);
}

async function text(stream: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe(detectCompression.name, () => {
  it('knows gzip, zstd, bzip2 and xz by their magic bytes, anything else as none', () => {
    expect(detectCompression(gzipSync('x'))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(Buffer.from('BZh91AY'))).toBe('bzip2');
    expect(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe('xz');
    expect(detectCompression(Buffer.from('ustar'))).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
  });
});

describe(decompress.name, () => {
  it('passes plain data through, even when the first chunk is tiny', async () => {
    const { compression, stream } = await decompress(pieces(Buffer.from('ab'), Buffer.from('cdefgh')), 'x');
    expect(compression).toBe('none');
    expect(await text(stream)).toBe('abcdefgh');
  });

  it('gunzips gzip data split anywhere', async () => {
    const gz = gzipSync('hello world');
    const { compression, stream } = await decompress(pieces(gz.subarray(0, 1), gz.subarray(1, 9), gz.subarray(9)), 'x');
    expect(compression).toBe('gzip');
    expect(await text(stream)).toBe('hello world');
  });

  it('reads chunks that are views into larger buffers, plain Uint8Arrays among them', async () => {
    const gz = gzipSync('hello world');
    const backing = new Uint8Array(gz.length + 16);
    backing.set(gz, 8);
    const view = backing.subarray(8, 8 + gz.length); // not a Buffer, and not at the start of its memory
    async function* views(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(view.subarray(0, 2));
      yield view.subarray(2, 10);
      yield Buffer.from(view.subarray(10));
    }
    const { compression, stream } = await decompress(views(), 'x');
    expect(compression).toBe('gzip');
    expect(await text(stream)).toBe('hello world');
  });

  it('decompresses zstd', async () => {
    // `printf 'hello world' | zstd -c`
    const zst = Buffer.from('28b52ffd045859000068656c6c6f20776f726c6468691eb2', 'hex');
    const { compression, stream } = await decompress(pieces(zst.subarray(0, 3), zst.subarray(3)), 'x');
    expect(compression).toBe('zstd');
    expect(await text(stream)).toBe('hello world');
  });

  it('refuses bzip2 with a message naming the stream', async () => {
    await expect(decompress(pieces(Buffer.from('BZh91AY&SY')), 'layer 3 of app:1')).rejects.toThrow(
      'layer 3 of app:1 is compressed with bzip2, which is not supported yet (use gzip, zstd or no compression)',
    );
  });

  it('handles an empty stream', async () => {
    const { stream } = await decompress(pieces(), 'x');
    expect(await text(stream)).toBe('');
  });
});
