import { LinkStream, StreamResetError, type StreamFrameSink } from '@skiff/protocol/link-stream';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BACKLOG_BYTES, LogFanout, VIEWER_HIGH_WATER_BYTES } from './log-fanout.js';

const quietSink: StreamFrameSink = {
  data: () => undefined,
  end: () => undefined,
  credit: () => undefined,
  reset: () => undefined,
};

/** A viewer that keeps what it gets, or (stalled) never finishes a write. */
function viewer(stalled = false) {
  const received: Buffer[] = [];
  const stream = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk);
      if (!stalled) callback();
    },
  });
  return { stream, text: () => Buffer.concat(received).toString() };
}

describe(LogFanout.name, () => {
  it('gives every viewer the same bytes from one stream', async () => {
    const upstream = new LinkStream(1, quietSink);
    const fanout = new LogFanout(upstream, () => undefined);
    const a = viewer();
    const b = viewer();
    fanout.add(a.stream);
    fanout.add(b.stream);
    upstream.receiveData(Buffer.from('one\n'));
    upstream.receiveData(Buffer.from('two\n'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(a.text()).toBe('one\ntwo\n');
    expect(b.text()).toBe('one\ntwo\n');
  });

  it('shows a late viewer the recent backlog, then the live stream', async () => {
    const upstream = new LinkStream(1, quietSink, { windowBytes: 4 * BACKLOG_BYTES });
    const fanout = new LogFanout(upstream, () => undefined);
    fanout.add(viewer().stream);
    for (let i = 0; i < 40; i += 1) upstream.receiveData(Buffer.alloc(4096, 65 + (i % 26)));
    await new Promise((resolve) => setImmediate(resolve));
    const late = viewer();
    fanout.add(late.stream);
    upstream.receiveData(Buffer.from('live'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(late.text().length).toBeLessThanOrEqual(BACKLOG_BYTES + 4);
    expect(late.text().endsWith('live')).toBe(true);
  });

  it('slows to a slow viewer instead of buffering, and cuts off one that stalls', async () => {
    const upstream = new LinkStream(1, quietSink, { windowBytes: 64 * 1024 * 1024 });
    const fanout = new LogFanout(upstream, () => undefined, 300);
    const stalled = viewer(true);
    const healthy = viewer();
    const cutOff = new Promise<Error>((resolve) => stalled.stream.once('error', resolve));
    fanout.add(stalled.stream);
    fanout.add(healthy.stream);
    const chunk = Buffer.alloc(64 * 1024, 120);
    for (let i = 0; i < 64; i += 1) upstream.receiveData(chunk);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Paused: the stalled viewer holds no more than the high-water mark and a chunk.
    expect(upstream.isPaused()).toBe(true);
    expect(stalled.stream.writableLength).toBeLessThanOrEqual(VIEWER_HIGH_WATER_BYTES + chunk.length);
    const error = await cutOff;
    expect(error).toBeInstanceOf(StreamResetError);
    expect(error.message).toMatch(/fell behind/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Without it the stream flows again and the healthy viewer gets everything.
    expect(healthy.text().length).toBe(64 * chunk.length);
    expect(fanout.viewerCount).toBe(1);
  });

  it('keeps a viewer that is slow but takes what it gets', async () => {
    const upstream = new LinkStream(1, quietSink, { windowBytes: 64 * 1024 * 1024 });
    const fanout = new LogFanout(upstream, () => undefined, 200);
    let taken = 0;
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(piece: Buffer, _encoding, callback) {
        taken += piece.length;
        setTimeout(callback, 5);
      },
    });
    fanout.add(slow);
    const chunk = Buffer.alloc(64 * 1024, 121);
    for (let i = 0; i < 32; i += 1) upstream.receiveData(chunk);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(slow.destroyed).toBe(false);
    expect(taken).toBe(32 * chunk.length);
  });

  it('closes the stream from the agent when the last viewer leaves', async () => {
    const upstream = new LinkStream(1, quietSink);
    let closed = 0;
    const fanout = new LogFanout(upstream, () => (closed += 1));
    const a = viewer();
    const b = viewer();
    fanout.add(a.stream);
    fanout.add(b.stream);
    a.stream.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(upstream.destroyed).toBe(false);
    b.stream.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(upstream.destroyed).toBe(true);
    expect(closed).toBe(1);
    expect(fanout.isClosed).toBe(true);
  });

  it('ends every viewer when the log ends', async () => {
    const upstream = new LinkStream(1, quietSink);
    const fanout = new LogFanout(upstream, () => undefined);
    const a = viewer();
    const finished = new Promise((resolve) => a.stream.once('finish', resolve));
    fanout.add(a.stream);
    upstream.receiveData(Buffer.from('last\n'));
    upstream.receiveEnd();
    await finished;
    expect(a.text()).toBe('last\n');
  });
});
