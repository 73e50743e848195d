/**
 * Stops a decompression bomb: a small layer blob that expands to fill the disk. The uncompressed
 * stream may grow to `max(floorBytes, maxRatio × compressed size)`; past that the layer is refused.
 * gzip cannot pass about 1032:1, zstd can pass millions to one; genuine layers rarely reach 10:1,
 * and the floor keeps small but very compressible layers (zero-filled files) working.
 */
import { Transform, type TransformCallback } from 'node:stream';

import { invalidArgument } from '../engine-error.js';

export interface ExpansionLimits {
  maxRatio: number;
  floorBytes: number;
}

export const DEFAULT_EXPANSION_LIMITS: ExpansionLimits = { maxRatio: 100, floorBytes: 512 * 1024 * 1024 };

/** The most uncompressed bytes a blob of `compressedSize` may expand to. */
export function expansionLimit(compressedSize: number, limits: ExpansionLimits = DEFAULT_EXPANSION_LIMITS): number {
  return Math.max(limits.floorBytes, limits.maxRatio * compressedSize);
}

/** Passes bytes through until more than `limit` have gone by, then fails naming `what`. */
export class ExpansionGuard extends Transform {
  private seen = 0;

  constructor(
    private readonly limit: number,
    private readonly what: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      callback(
        invalidArgument(`${this.what} expands to more than ${this.limit} bytes: refused as a decompression bomb`),
      );
      return;
    }
    callback(null, chunk);
  }
}
