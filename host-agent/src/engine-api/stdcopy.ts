/**
 * Docker's multiplexed stream format ("stdcopy"), used for attach, exec and logs of a container
 * without a TTY: each frame is an 8-byte header `[stream, 0, 0, 0, length as big-endian uint32]`
 * followed by `length` bytes of that stream.
 */

export const StdStream = { stdin: 0, stdout: 1, stderr: 2 } as const;

export type StdStreamName = keyof typeof StdStream;
export type StdStreamId = (typeof StdStream)[StdStreamName];

export const STDCOPY_HEADER_BYTES = 8;

/** The largest payload one frame can say it carries. */
const MAX_FRAME_PAYLOAD = 0xffff_ffff;

/** One frame for `payload` on `stream`; an empty payload makes no frame (an empty Buffer). */
export function encodeFrame(stream: StdStreamName, payload: Buffer | string): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (data.length === 0) return Buffer.alloc(0);
  if (data.length > MAX_FRAME_PAYLOAD) {
    const frames: Buffer[] = [];
    for (let at = 0; at < data.length; at += MAX_FRAME_PAYLOAD) {
      frames.push(encodeFrame(stream, data.subarray(at, at + MAX_FRAME_PAYLOAD)));
    }
    return Buffer.concat(frames);
  }
  const header = Buffer.alloc(STDCOPY_HEADER_BYTES);
  header[0] = StdStream[stream];
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data], STDCOPY_HEADER_BYTES + data.length);
}

/** Many frames in one buffer, as one write: a frame per entry, empty ones left out. */
export function encodeFrames(entries: ReadonlyArray<{ stream: StdStreamName; payload: Uint8Array }>): Buffer {
  let total = 0;
  for (const { payload } of entries) if (payload.length > 0) total += STDCOPY_HEADER_BYTES + payload.length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const { stream, payload } of entries) {
    if (payload.length === 0) continue;
    out.writeUInt32BE(StdStream[stream] << 24, at);
    out.writeUInt32BE(payload.length, at + 4);
    out.set(payload, at + STDCOPY_HEADER_BYTES);
    at += STDCOPY_HEADER_BYTES + payload.length;
  }
  return out;
}

export interface DecodedFrame {
  stream: StdStreamName;
  payload: Buffer;
}

const STREAM_NAMES: Readonly<Record<number, StdStreamName>> = { 0: 'stdin', 1: 'stdout', 2: 'stderr' };

/**
 * Splits a multiplexed byte stream back into frames; feed it chunks as they arrive, however they
 * are cut. Throws on a header whose stream byte is not 0, 1 or 2.
 */
export class StdcopyDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): DecodedFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: DecodedFrame[] = [];
    while (this.pending.length >= STDCOPY_HEADER_BYTES) {
      const streamByte = this.pending[0];
      const stream = STREAM_NAMES[streamByte];
      if (stream === undefined) throw new Error(`stdcopy: unknown stream ${streamByte} in frame header`);
      const length = this.pending.readUInt32BE(4);
      if (this.pending.length < STDCOPY_HEADER_BYTES + length) break;
      frames.push({ stream, payload: this.pending.subarray(STDCOPY_HEADER_BYTES, STDCOPY_HEADER_BYTES + length) });
      this.pending = this.pending.subarray(STDCOPY_HEADER_BYTES + length);
    }
    return frames;
  }

  /** Bytes of an unfinished frame still waiting for the rest. */
  get bufferedBytes(): number {
    return this.pending.length;
  }
}

/** Decodes a complete multiplexed buffer into the text of each stream (for tests and tools). */
export function demultiplex(bytes: Buffer): Record<StdStreamName, string> {
  const decoder = new StdcopyDecoder();
  const parts: Record<StdStreamName, Buffer[]> = { stdin: [], stdout: [], stderr: [] };
  for (const frame of decoder.push(bytes)) parts[frame.stream].push(frame.payload);
  if (decoder.bufferedBytes > 0) throw new Error(`stdcopy: ${decoder.bufferedBytes} bytes of an unfinished frame`);
  // Joined before decoding, so a character cut between two frames comes out whole.
  return {
    stdin: Buffer.concat(parts.stdin).toString('utf8'),
    stdout: Buffer.concat(parts.stdout).toString('utf8'),
    stderr: Buffer.concat(parts.stderr).toString('utf8'),
  };
}
