import { describe, expect, it } from 'vitest';

import { MAX_ZSTD_WINDOW, ZstdFrameGuard, zstdDecompress } from './zstd-stream.js';

// Made with the zstd CLI 1.5: `printf 'hello world' | zstd -c`, two frames concatenated, and
// 300,000 zero bytes at -19 (RLE blocks and a checksum).
const HELLO = Buffer.from('28b52ffd045859000068656c6c6f20776f726c6468691eb2', 'hex');
const TWO_FRAMES = Buffer.from('28b52ffd0458310000666972737420d2fdb51128b52ffd04583100007365636f6e6437005e4d', 'hex');
const ZEROS = Buffer.from('28b52ffd04684c000008000100fcff39100202001000039f04002d28de26', 'hex');

async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size)
    yield await Promise.resolve(data.subarray(offset, offset + size));
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** A frame header (no checksum, no dictionary, no content size) with the given window descriptor byte. */
function frameWithWindow(descriptor: number): Buffer {
  return Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, descriptor, 0x01, 0x00, 0x00]);
}

describe(zstdDecompress.name, () => {
  it('decompresses a frame fed one byte at a time', async () => {
    expect((await collect(zstdDecompress(pieces(HELLO, 1), 'layer 1'))).toString()).toBe('hello world');
  });

  it('decompresses concatenated frames', async () => {
    expect((await collect(zstdDecompress(pieces(TWO_FRAMES, 7), 'layer 1'))).toString()).toBe('first second');
  });

  it('expands RLE blocks', async () => {
    const out = await collect(zstdDecompress(pieces(ZEROS, 1000), 'layer 1'));
    expect(out.length).toBe(300_000);
    expect(out.every((byte) => byte === 0)).toBe(true);
  });

  it('refuses a stream cut inside a frame, naming it', async () => {
    await expect(collect(zstdDecompress(pieces(HELLO.subarray(0, 15), 4), 'layer 2 of app'))).rejects.toThrow(
      'layer 2 of app is a truncated zstd stream',
    );
  });

  it('refuses corrupt data', async () => {
    // A compressed block whose content is garbage.
    const corrupt = Buffer.concat([HELLO.subarray(0, 6), Buffer.from([0x25, 0, 0, 0xff, 0xff, 0xff, 0xff])]);
    await expect(collect(zstdDecompress(pieces(corrupt, 64), 'layer 1'))).rejects.toThrow(
      /layer 1 is (not a valid|a truncated) zstd stream/,
    );
  });

  it('refuses a block of the reserved type', async () => {
    const reserved = Buffer.concat([HELLO.subarray(0, 6), Buffer.from([0x07, 0, 0])]);
    await expect(collect(zstdDecompress(pieces(reserved, 64), 'layer 1'))).rejects.toThrow(
      'layer 1 is not a valid zstd stream (reserved block type)',
    );
  });
});

describe(ZstdFrameGuard.name, () => {
  it('accepts windows up to the limit', () => {
    // Exponent 17: 2^27 bytes.
    expect(() => new ZstdFrameGuard('x').check(frameWithWindow(17 << 3))).not.toThrow();
  });

  it('refuses a window over the limit before anything is allocated', () => {
    expect(() => new ZstdFrameGuard('layer 3').check(frameWithWindow((17 << 3) | 1))).toThrow(
      `layer 3 uses a zstd window of ${MAX_ZSTD_WINDOW + MAX_ZSTD_WINDOW / 8} bytes`,
    );
  });

  it('refuses a single-segment frame that declares a huge content size', () => {
    // Single segment, 8-byte content size of 2^40.
    const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(() => new ZstdFrameGuard('x').check(header)).toThrow(/zstd window of 1099511627776 bytes/);
  });

  it('checks the header of every frame, not just the first', () => {
    const guard = new ZstdFrameGuard('x');
    guard.check(TWO_FRAMES.subarray(0, 20));
    expect(() => guard.check(Buffer.concat([TWO_FRAMES.subarray(20, 19 + 19), frameWithWindow(0xff)]))).toThrow(
      /zstd window/,
    );
  });

  it('refuses frames that need a dictionary', () => {
    expect(() => new ZstdFrameGuard('x').check(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x50, 0x07]))).toThrow(
      'x needs a zstd dictionary',
    );
  });

  it('refuses bytes that are not a frame', () => {
    expect(() => new ZstdFrameGuard('x').check(Buffer.from('ustar\0\0\0'))).toThrow('bad frame magic');
  });
});
