import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';

import { ExpansionGuard, expansionLimit } from './expansion-guard.js';

async function drain(stream: NodeJS.ReadableStream): Promise<number> {
  let total = 0;
  for await (const chunk of stream) total += (chunk as Buffer).length;
  return total;
}

describe(ExpansionGuard.name, () => {
  it('lets a layer expand to the floor, or to the ratio times its compressed size', () => {
    expect(expansionLimit(1000, { maxRatio: 100, floorBytes: 1_000_000 })).toBe(1_000_000);
    expect(expansionLimit(50_000, { maxRatio: 100, floorBytes: 1_000_000 })).toBe(5_000_000);
  });

  it('passes bytes up to the limit', async () => {
    const source = Readable.from([Buffer.alloc(600), Buffer.alloc(400)]);
    expect(await drain(source.pipe(new ExpansionGuard(1000, 'layer 1')))).toBe(1000);
  });

  it('fails once the limit is passed, naming the layer', async () => {
    const source = Readable.from([Buffer.alloc(600), Buffer.alloc(401)]);
    await expect(drain(source.pipe(new ExpansionGuard(1000, 'layer 2 of app:1')))).rejects.toThrow(
      'layer 2 of app:1 expands to more than 1000 bytes: refused as a decompression bomb',
    );
  });
});
