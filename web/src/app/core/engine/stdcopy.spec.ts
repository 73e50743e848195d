import { describe, expect, it } from 'vitest';

import { LineSplitter, StdcopyDemuxer } from './stdcopy';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One stdcopy frame: stream type, three zero bytes, big-endian length, payload. */
function frame(stream: 0 | 1 | 2, text: string): Uint8Array {
  const payload = encoder.encode(text);
  const bytes = new Uint8Array(8 + payload.byteLength);
  bytes[0] = stream;
  new DataView(bytes.buffer).setUint32(4, payload.byteLength);
  bytes.set(payload, 8);
  return bytes;
}

function join(...parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

const readable = (frames: { stream: string; payload: Uint8Array }[]) =>
  frames.map((item) => [item.stream, decoder.decode(item.payload)]);

describe(StdcopyDemuxer.name, () => {
  it('splits a chunk of several frames by stream', () => {
    const demuxer = new StdcopyDemuxer();
    const frames = demuxer.push(join(frame(1, 'out\n'), frame(2, 'err\n'), frame(0, 'in')));
    expect(readable(frames)).toEqual([
      ['stdout', 'out\n'],
      ['stderr', 'err\n'],
      ['stdin', 'in'],
    ]);
  });

  it('waits for the rest of a frame whose header or payload spans chunks', () => {
    const demuxer = new StdcopyDemuxer();
    const bytes = join(frame(1, 'hello\n'), frame(2, 'oops\n'));
    expect(demuxer.push(bytes.subarray(0, 5))).toEqual([]);
    expect(readable(demuxer.push(bytes.subarray(5, 12)))).toEqual([]);
    expect(readable(demuxer.push(bytes.subarray(12, 20)))).toEqual([['stdout', 'hello\n']]);
    expect(readable(demuxer.push(bytes.subarray(20)))).toEqual([['stderr', 'oops\n']]);
  });

  it('reads an empty frame and an unknown stream type as stdout', () => {
    const demuxer = new StdcopyDemuxer();
    const unknown = frame(1, 'x');
    unknown[0] = 7;
    expect(readable(demuxer.push(join(frame(2, ''), unknown)))).toEqual([
      ['stderr', ''],
      ['stdout', 'x'],
    ]);
  });
});

describe(LineSplitter.name, () => {
  it('gives whole lines and keeps the unfinished one for the next chunk', () => {
    const splitter = new LineSplitter();
    expect(splitter.push(encoder.encode('one\ntw'))).toEqual(['one']);
    expect(splitter.push(encoder.encode('o\nthree'))).toEqual(['two']);
    expect(splitter.flush()).toEqual(['three']);
    expect(splitter.flush()).toEqual([]);
  });

  it('drops the carriage return of CRLF lines and keeps empty lines', () => {
    expect(new LineSplitter().push(encoder.encode('a\r\n\r\nb\n'))).toEqual(['a', '', 'b']);
  });

  it('joins a character whose UTF-8 bytes span chunks', () => {
    const splitter = new LineSplitter();
    const bytes = encoder.encode('café ✓\n');
    const cut = bytes.indexOf(0xe2) + 1;
    expect(splitter.push(bytes.subarray(0, cut))).toEqual([]);
    expect(splitter.push(bytes.subarray(cut))).toEqual(['café ✓']);
  });
});
