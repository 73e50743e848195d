import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JsonLinesWriter, progressError } from './json-lines-writer.js';

/** A reader that takes nothing until `release()`: what a client that stopped reading looks like. */
function stalledReader(highWaterMark = 16) {
  const received: string[] = [];
  const held: Array<() => void> = [];
  let stalled = true;
  const out = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk.toString());
      if (stalled) held.push(() => callback());
      else callback();
    },
  });
  const release = () => {
    stalled = false;
    for (const callback of held.splice(0)) callback();
  };
  return { out, received, release };
}

describe(JsonLinesWriter.name, () => {
  it('writes one JSON document per line', async () => {
    const { out, received, release } = stalledReader(1024);
    release();
    const writer = new JsonLinesWriter(out);

    await writer.write({ status: 'Pulling fs layer', id: 'a' });
    writer.offer({ Type: 'container' });

    expect(received.join('')).toBe('{"status":"Pulling fs layer","id":"a"}\n{"Type":"container"}\n');
  });

  it('makes a waiting source wait for drain when the reader is behind', async () => {
    const { out, release } = stalledReader(16);
    const writer = new JsonLinesWriter(out);
    let done = false;

    const pending = writer.write({ progress: 'x'.repeat(64) }).then((accepted) => {
      done = true;
      return accepted;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toBe(false);

    release();
    expect(await pending).toBe(true);
  });

  it('resolves false for a waiting source when the reader goes away', async () => {
    const { out } = stalledReader(16);
    const writer = new JsonLinesWriter(out);

    const pending = writer.write({ progress: 'x'.repeat(64) });
    out.destroy();

    expect(await pending).toBe(false);
    expect(await writer.write({ more: true })).toBe(false);
  });

  it('refuses offered lines once the backlog passes the cap, never buffering more', () => {
    const { out } = stalledReader(16);
    const writer = new JsonLinesWriter(out, { maxBacklogBytes: 100 });
    const line = { data: 'y'.repeat(40) }; // 52 bytes with its newline

    const accepted = Array.from({ length: 10 }, () => writer.offer(line));

    // 52 and 104 bytes unread: the second line passes the cap, the third is refused.
    expect(accepted).toEqual([true, true, false, false, false, false, false, false, false, false]);
    expect(writer.backlogBytes).toBe(104);
  });

  it('takes offered lines again once the reader catches up', () => {
    const { out, release } = stalledReader(16);
    const writer = new JsonLinesWriter(out, { maxBacklogBytes: 10 });
    writer.offer({ a: 'long enough to pass the cap' });
    expect(writer.offer({ b: 1 })).toBe(false);

    release();

    expect(writer.offer({ c: 1 })).toBe(true);
  });

  it('refuses lines after the end', () => {
    const { out, release } = stalledReader();
    release();
    const writer = new JsonLinesWriter(out);

    writer.end();

    expect(writer.closed).toBe(true);
    expect(writer.offer({ late: true })).toBe(false);
  });

  it('cuts the stream off on abort', () => {
    const { out } = stalledReader();
    const writer = new JsonLinesWriter(out);

    writer.abort();

    expect(out.destroyed).toBe(true);
    expect(writer.closed).toBe(true);
  });
});

describe(progressError.name, () => {
  it('has the shape the CLI prints a failed pull or build from', () => {
    expect(progressError('manifest unknown')).toEqual({
      errorDetail: { message: 'manifest unknown' },
      error: 'manifest unknown',
    });
  });
});
