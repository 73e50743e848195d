import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { ErrorBody } from './error-kind.js';
import { LinkStreamTable, StreamResetError, type StreamFrameSink } from './link-stream.js';

const WINDOW = 64 * 1024;

/** Two ends of a link in memory; frames cross on the next tick, as they would over a socket. */
function linkPair() {
  const frames = { data: 0, credit: 0, reset: [] as Array<[number, ErrorBody | null]> };
  const tables: { left?: LinkStreamTable; right?: LinkStreamTable } = {};
  const sinkTo = (peer: () => LinkStreamTable): StreamFrameSink => ({
    data: (id, chunk) => {
      frames.data += 1;
      const copy = Uint8Array.from(chunk);
      setImmediate(() => peer().data(id, copy));
    },
    end: (id) => setImmediate(() => peer().end(id)),
    credit: (id, bytes) => {
      frames.credit += 1;
      setImmediate(() => peer().credit(id, bytes));
    },
    reset: (id, error) => {
      frames.reset.push([id, error]);
      setImmediate(() => peer().reset(id, error));
    },
  });
  const options = { windowBytes: WINDOW, chunkBytes: 16 * 1024 };
  const left = new LinkStreamTable(
    sinkTo(() => tables.right!),
    options,
  );
  const right = new LinkStreamTable(
    sinkTo(() => tables.left!),
    options,
  );
  Object.assign(tables, { left, right });
  return { left, right, frames };
}

/** Reads one side to its end without destroying the stream (an async iterator would). */
function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

describe('LinkStream', () => {
  it('carries bytes both ways and half-closes each way on its own', async () => {
    const { left, right } = linkPair();
    const a = left.open(1);
    const b = right.open(1);
    const payload = Buffer.alloc(1024 * 1024, 7);
    const received = readAll(b);
    a.end(payload);
    expect((await received).equals(payload)).toBe(true);
    // b can still answer after a's half-close.
    const answer = readAll(a);
    b.end('done');
    expect((await answer).toString()).toBe('done');
    expect(a.counters).toEqual({ sent: payload.length, received: 4 });
  });

  it('never has more than one window in flight to a reader that stopped', async () => {
    const { left, right } = linkPair();
    const a = left.open(2);
    const b = right.open(2);
    b.pause();
    let written = 0;
    const source = new Readable({
      read() {
        written += 16 * 1024;
        this.push(Buffer.alloc(16 * 1024));
      },
    });
    source.pipe(a);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // What the source produced: the reader's buffer + one window in flight + a's own buffers.
    expect(b.readableLength).toBeLessThanOrEqual(2 * WINDOW);
    expect(written).toBeLessThan(6 * WINDOW);
    const before = written;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(written).toBe(before);
    // Reading again lets it flow.
    b.resume();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(written).toBeGreaterThan(before + 4 * WINDOW);
    source.destroy();
    b.destroy();
  });

  it('tells the other end why it failed, and the other end fails with that reason', async () => {
    const { left, right, frames } = linkPair();
    const a = left.open(3);
    const b = right.open(3);
    const failure = new Promise<Error>((resolve) => b.once('error', resolve));
    a.on('error', () => undefined);
    a.destroy(new Error('the engine went away'));
    const error = await failure;
    expect(error).toBeInstanceOf(StreamResetError);
    expect((error as StreamResetError).body).toEqual({ kind: 'internal', message: 'the engine went away' });
    expect(frames.reset).toEqual([[3, { kind: 'internal', message: 'the engine went away' }]]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(left.size + right.size).toBe(0);
  });

  it('sends no reset when both sides ended normally', async () => {
    const { left, right, frames } = linkPair();
    const a = left.open(4);
    const b = right.open(4);
    const atB = readAll(b);
    const atA = readAll(a);
    a.end('x');
    b.end('y');
    expect((await atB).toString()).toBe('x');
    expect((await atA).toString()).toBe('y');
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames.reset).toEqual([]);
    expect(left.size + right.size).toBe(0);
  });

  it('answers data for an unknown stream with a reset, and refuses data beyond the credit', async () => {
    const { left, right, frames } = linkPair();
    right.data(9, new Uint8Array(1));
    expect(frames.reset).toEqual([[9, null]]);
    const b = right.open(5);
    const failure = new Promise<Error>((resolve) => b.once('error', resolve));
    right.data(5, new Uint8Array(WINDOW + 1));
    expect((await failure).message).toMatch(/beyond its credit/);
    expect(left.size).toBe(0);
  });

  it('fails every open stream when the link drops', async () => {
    const { left } = linkPair();
    const a = left.open(6);
    const failure = new Promise<Error>((resolve) => a.once('error', resolve));
    left.closeAll({ kind: 'unavailable', message: 'the agent disconnected' });
    expect((await failure).message).toBe('the agent disconnected');
    expect(left.size).toBe(0);
  });

  it('keeps order across many writes through pipeline', async () => {
    const { left, right } = linkPair();
    const a = left.open(7);
    const b = right.open(7);
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}\n`);
    const got = readAll(b);
    await pipeline(Readable.from(lines), a);
    expect((await got).toString()).toBe(lines.join(''));
  });

  it('keeps the bytes that came before a reset that follows the end', async () => {
    const { left, right } = linkPair();
    const a = left.open(8);
    const b = right.open(8);
    a.end('whole answer');
    a.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await readAll(b)).toString()).toBe('whole answer');
  });

  it('passes its own reason on when it fails a stream for the other end', async () => {
    const { left, right, frames } = linkPair();
    const a = left.open(9);
    const told = new Promise<Error>((resolve) => a.once('error', resolve));
    const b = right.open(9);
    b.on('error', () => undefined);
    right.data(9, new Uint8Array(WINDOW + 1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames.reset).toEqual([[9, { kind: 'invalid-argument', message: 'stream 9: sent beyond its credit' }]]);
    // The sending end learns why, as an error of its own stream.
    expect((await told).message).toContain('sent beyond its credit');
  });

  it('ignores data after the other end said it had finished', async () => {
    const { left, right, frames } = linkPair();
    left.open(10);
    const b = right.open(10);
    const read = readAll(b);
    right.end(10);
    right.data(10, new Uint8Array(3));
    expect((await read).length).toBe(0);
    expect(frames.reset).toEqual([]);
  });
});
