import { describe, expect, it } from 'vitest';
import { StdcopyDecoder, demultiplex, encodeFrame, encodeFrames } from './stdcopy.js';

describe(encodeFrame.name, () => {
  it('writes the stream byte, three zeros and the length big-endian before the payload', () => {
    expect([...encodeFrame('stdout', 'hi\n')]).toEqual([1, 0, 0, 0, 0, 0, 0, 3, 0x68, 0x69, 0x0a]);
    expect(encodeFrame('stderr', 'x')[0]).toBe(2);
    expect(encodeFrame('stdin', 'x')[0]).toBe(0);
  });

  it('counts bytes, not characters', () => {
    expect(encodeFrame('stdout', 'é').readUInt32BE(4)).toBe(2);
  });

  it('encodes a length over 16 bits in all four bytes', () => {
    const frame = encodeFrame('stdout', Buffer.alloc(70_000, 0x61));

    expect([...frame.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0x00, 0x01, 0x11, 0x70]);
    expect(frame.length).toBe(70_008);
  });

  it('makes no frame for an empty payload', () => {
    expect(encodeFrame('stdout', '').length).toBe(0);
  });
});

describe(encodeFrames.name, () => {
  it('writes the same bytes as one frame per entry, leaving out empty ones', () => {
    const entries = [
      { stream: 'stdout' as const, payload: Buffer.from('one\n') },
      { stream: 'stderr' as const, payload: Buffer.alloc(0) },
      { stream: 'stderr' as const, payload: Buffer.from('zwei €\n') },
      { stream: 'stdout' as const, payload: Buffer.alloc(70_000, 'x') },
    ];
    const expected = Buffer.concat(entries.map((entry) => encodeFrame(entry.stream, entry.payload)));
    expect(encodeFrames(entries).equals(expected)).toBe(true);
    expect(encodeFrames([]).length).toBe(0);
  });
});

describe(StdcopyDecoder.name, () => {
  it('splits frames back however the bytes were cut', () => {
    const bytes = Buffer.concat([
      encodeFrame('stdout', 'one\n'),
      encodeFrame('stderr', 'two\n'),
      encodeFrame('stdout', 'three'),
    ]);
    const decoder = new StdcopyDecoder();
    const frames = [];
    for (let at = 0; at < bytes.length; at += 3) frames.push(...decoder.push(bytes.subarray(at, at + 3)));

    expect(frames.map((frame) => [frame.stream, frame.payload.toString()])).toEqual([
      ['stdout', 'one\n'],
      ['stderr', 'two\n'],
      ['stdout', 'three'],
    ]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('keeps an unfinished frame until the rest comes', () => {
    const decoder = new StdcopyDecoder();
    const frame = encodeFrame('stdout', 'hello');

    expect(decoder.push(frame.subarray(0, 10))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(10);
    expect(decoder.push(frame.subarray(10)).map((f) => f.payload.toString())).toEqual(['hello']);
  });

  it('refuses a header with an unknown stream byte', () => {
    expect(() => new StdcopyDecoder().push(Buffer.from([7, 0, 0, 0, 0, 0, 0, 1, 0x61]))).toThrow(/unknown stream 7/);
  });
});

describe(demultiplex.name, () => {
  it('gives the text of each stream, a character split across frames included', () => {
    const e = Buffer.from('é');
    const bytes = Buffer.concat([
      encodeFrame('stdout', e.subarray(0, 1)),
      encodeFrame('stderr', 'err'),
      encodeFrame('stdout', e.subarray(1)),
    ]);

    expect(demultiplex(bytes)).toEqual({ stdin: '', stdout: 'é', stderr: 'err' });
  });

  it('refuses a truncated stream', () => {
    expect(() => demultiplex(encodeFrame('stdout', 'hello').subarray(0, 9))).toThrow(/unfinished frame/);
  });
});
