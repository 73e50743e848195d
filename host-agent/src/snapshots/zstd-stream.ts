/**
 * zstd decompression for layers (Node 20's zlib has none), with fzstd, a pure-JS decoder. fzstd
 * allocates each frame's window as the frame header says (up to 2 GiB) and moves the whole
 * window on every block, so every frame header is read here first and a window over
 * MAX_ZSTD_WINDOW (the zstd CLI's own default limit, 2^27) is refused before fzstd sees it.
 */
import { Decompress } from 'fzstd';

import { invalidArgument } from '../engine-error.js';

/** 128 MiB: what `zstd -d` accepts without --long; every level up to 19 stays below it. */
export const MAX_ZSTD_WINDOW = 2 ** 27;
/** Input is fed in slices this big, so one push cannot produce unbounded output at once. */
const SLICE = 16 * 1024;

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

type WalkerState =
  | { kind: 'magic' }
  | { kind: 'skippable-size' }
  | { kind: 'skip'; remaining: number; next: 'magic' | 'block' | 'checksum' }
  | { kind: 'frame-header' }
  | { kind: 'block-header' }
  | { kind: 'checksum' };

/**
 * Walks the frame and block structure of a zstd stream as it arrives and checks every frame
 * header: the window size, no dictionary. It does not decode; fzstd does, and reports corrupt
 * blocks itself.
 */
export class ZstdFrameGuard {
  private state: WalkerState = { kind: 'magic' };
  private pending = Buffer.alloc(0);
  private checksum = false;
  private lastBlock = false;

  constructor(
    private readonly what: string,
    private readonly maxWindow = MAX_ZSTD_WINDOW,
  ) {}

  /** Checks the next bytes of the stream; throws invalid-argument on a frame it will not decode. */
  check(chunk: Uint8Array): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    this.pending = Buffer.alloc(0);
    for (;;) {
      const state = this.state;
      if (state.kind === 'skip') {
        const taken = Math.min(state.remaining, data.length);
        data = data.subarray(taken);
        if (taken < state.remaining) {
          this.state = { ...state, remaining: state.remaining - taken };
          return;
        }
        this.state = { kind: state.next === 'magic' ? 'magic' : state.next === 'block' ? 'block-header' : 'checksum' };
        if (state.next === 'block' && this.lastBlock) this.endFrame();
        continue;
      }
      const needed = this.needed(data);
      if (needed === undefined || data.length < needed) {
        this.pending = Buffer.from(data);
        return;
      }
      this.step(data.subarray(0, needed));
      data = data.subarray(needed);
    }
  }

  /** True when the stream stopped between frames (nothing half-read). */
  get atFrameBoundary(): boolean {
    return this.state.kind === 'magic' && this.pending.length === 0;
  }

  /** Bytes the current state needs before it can step; undefined when that is not known yet. */
  private needed(data: Buffer): number | undefined {
    switch (this.state.kind) {
      case 'magic':
      case 'skippable-size':
      case 'checksum':
        return 4;
      case 'block-header':
        return 3;
      case 'frame-header': {
        if (data.length < 1) return undefined;
        const descriptor = data[0] ?? 0;
        const singleSegment = (descriptor >> 5) & 1;
        const dictionaryFlag = descriptor & 3;
        const contentSizeFlag = descriptor >> 6;
        const dictionaryBytes = [0, 1, 2, 4][dictionaryFlag] ?? 0;
        const contentSizeBytes = contentSizeFlag === 0 ? singleSegment : 1 << contentSizeFlag;
        return 1 + (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes;
      }
      case 'skip':
        return 0;
    }
  }

  private step(bytes: Buffer): void {
    switch (this.state.kind) {
      case 'magic': {
        const magic = bytes.readUInt32LE(0);
        if (magic === FRAME_MAGIC) this.state = { kind: 'frame-header' };
        else if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) this.state = { kind: 'skippable-size' };
        else throw invalidArgument(`${this.what} is not a valid zstd stream (bad frame magic)`);
        return;
      }
      case 'skippable-size':
        this.state = { kind: 'skip', remaining: bytes.readUInt32LE(0), next: 'magic' };
        return;
      case 'frame-header':
        this.frameHeader(bytes);
        return;
      case 'block-header': {
        const header = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16);
        this.lastBlock = (header & 1) === 1;
        const type = (header >> 1) & 3;
        const size = header >>> 3;
        if (type === 3) throw invalidArgument(`${this.what} is not a valid zstd stream (reserved block type)`);
        // An RLE block carries one byte, whatever size it expands to.
        this.state = { kind: 'skip', remaining: type === 1 ? 1 : size, next: 'block' };
        return;
      }
      case 'checksum':
        this.state = { kind: 'magic' };
        return;
      case 'skip':
        return;
    }
  }

  private frameHeader(bytes: Buffer): void {
    const descriptor = bytes[0];
    const singleSegment = (descriptor >> 5) & 1;
    const dictionaryFlag = descriptor & 3;
    const contentSizeFlag = descriptor >> 6;
    if ((descriptor & 8) !== 0) throw invalidArgument(`${this.what} is not a valid zstd stream (reserved bit set)`);
    this.checksum = ((descriptor >> 2) & 1) === 1;
    let offset = 1;
    let window = 0;
    if (!singleSegment) {
      const windowDescriptor = bytes[offset];
      offset += 1;
      const exponent = windowDescriptor >> 3;
      const base = 2 ** (10 + exponent);
      window = base + (base / 8) * (windowDescriptor & 7);
    }
    const dictionaryBytes = [0, 1, 2, 4][dictionaryFlag] ?? 0;
    let dictionary = 0;
    for (let index = 0; index < dictionaryBytes; index += 1) dictionary += bytes[offset + index] * 2 ** (8 * index);
    offset += dictionaryBytes;
    if (dictionary !== 0) throw invalidArgument(`${this.what} needs a zstd dictionary, which is not supported`);
    if (singleSegment) {
      const contentSizeBytes = contentSizeFlag === 0 ? 1 : 1 << contentSizeFlag;
      let contentSize = 0;
      for (let index = 0; index < contentSizeBytes; index += 1) {
        contentSize += bytes[offset + index] * 2 ** (8 * index);
      }
      if (contentSizeFlag === 1) contentSize += 256;
      window = contentSize;
    }
    if (window > this.maxWindow) {
      throw invalidArgument(
        `${this.what} uses a zstd window of ${window} bytes, over the limit of ${this.maxWindow} (compressed with --long?)`,
      );
    }
    this.lastBlock = false;
    this.state = { kind: 'block-header' };
  }

  private endFrame(): void {
    this.lastBlock = false;
    this.state = this.checksum ? { kind: 'checksum' } : { kind: 'magic' };
  }
}

/**
 * The decompressed bytes of a zstd stream (one or more frames). Output waits for the reader:
 * the input is fed in slices, and each slice's output is handed on before the next is decoded.
 */
export async function* zstdDecompress(source: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  const guard = new ZstdFrameGuard(what);
  const output: Uint8Array[] = [];
  const decoder = new Decompress((data) => {
    if (data.length > 0) output.push(data);
  });
  const push = (bytes: Uint8Array, final: boolean): void => {
    try {
      decoder.push(bytes, final);
    } catch (error) {
      throw invalidArgument(`${what} is not a valid zstd stream (${(error as Error).message || 'corrupt data'})`);
    }
  };
  let fed = false;
  for await (const chunk of source) {
    for (let offset = 0; offset < chunk.length; offset += SLICE) {
      const slice = chunk.subarray(offset, offset + SLICE);
      guard.check(slice);
      push(slice, false);
      fed = true;
      // fzstd hands out a new array per block (it keeps its window separately).
      while (output.length > 0) yield output.shift()!;
    }
  }
  if (!fed || !guard.atFrameBoundary) {
    throw invalidArgument(`${what} is a truncated zstd stream (it ends inside a frame)`);
  }
  push(new Uint8Array(0), true);
  while (output.length > 0) yield output.shift()!;
}
