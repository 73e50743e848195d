/** Which output a frame of a non-TTY log or exec stream came from. */
export type StdStream = 'stdin' | 'stdout' | 'stderr';

export interface StdFrame {
  stream: StdStream;
  payload: Uint8Array;
}

const HEADER_BYTES = 8;
const STREAM_OF: Readonly<Record<number, StdStream>> = { 0: 'stdin', 1: 'stdout', 2: 'stderr' };

/**
 * Splits Docker's multiplexed output (non-TTY logs, attach and exec) into frames: an 8-byte
 * header (stream type, three zero bytes, big-endian length) and the payload. Frames may span
 * chunks, so what does not make a whole frame yet waits for the next chunk.
 */
export class StdcopyDemuxer {
  private pending = new Uint8Array(0);

  /** The whole frames `chunk` completes, in order. */
  push(chunk: Uint8Array): StdFrame[] {
    const buffer = this.pending.byteLength === 0 ? chunk : concat(this.pending, chunk);
    const frames: StdFrame[] = [];
    let offset = 0;
    while (buffer.byteLength - offset >= HEADER_BYTES) {
      const view = new DataView(buffer.buffer, buffer.byteOffset + offset, HEADER_BYTES);
      const length = view.getUint32(4);
      if (buffer.byteLength - offset - HEADER_BYTES < length) break;
      const start = offset + HEADER_BYTES;
      frames.push({ stream: STREAM_OF[view.getUint8(0)] ?? 'stdout', payload: buffer.subarray(start, start + length) });
      offset = start + length;
    }
    // Copied, so a large chunk is not kept alive by a few leftover bytes.
    this.pending = buffer.slice(offset);
    return frames;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.byteLength + b.byteLength);
  joined.set(a, 0);
  joined.set(b, a.byteLength);
  return joined;
}

/**
 * Turns a byte stream into whole lines (UTF-8, a character may span chunks); the last line waits
 * for its newline.
 */
export class LineSplitter {
  private readonly decoder = new TextDecoder();
  private partial = '';

  push(bytes: Uint8Array): string[] {
    const text = this.partial + this.decoder.decode(bytes, { stream: true });
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }

  /** What is left without a newline (at the end of the stream). */
  flush(): string[] {
    const rest = this.partial + this.decoder.decode();
    this.partial = '';
    return rest === '' ? [] : [rest];
  }
}
