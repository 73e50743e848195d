import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type LogEntry, parseLogTime, readJsonLog, rfc3339Seconds } from './json-log.js';

const line = (stream: 'stdout' | 'stderr', log: string, time: string) => `${JSON.stringify({ log, stream, time })}\n`;

describe('readJsonLog', () => {
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-log-'));
    path = join(dir, 'container.log');
    await writeFile(
      path,
      line('stdout', 'one\n', '2026-11-28T00:00:01.000000001Z') +
        line('stderr', 'two\n', '2026-11-28T00:00:02.5Z') +
        line('stdout', 'three\n', '2026-11-28T00:00:03Z') +
        '{"torn',
    );
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const all = async (query: Parameters<typeof readJsonLog>[1]) => {
    const entries: LogEntry[] = [];
    for await (const batch of readJsonLog(path, query)) entries.push(...batch);
    return entries.map((entry) => entry.log.toString().trim());
  };

  it('reads both streams in order and skips a torn last line', async () => {
    expect(await all({ stdout: true, stderr: true })).toEqual(['one', 'two', 'three']);
  });

  it('reads one stream alone', async () => {
    expect(await all({ stdout: false, stderr: true })).toEqual(['two']);
  });

  it('keeps the last N entries with tail, and none with tail 0', async () => {
    expect(await all({ stdout: true, stderr: true, tail: 2 })).toEqual(['two', 'three']);
    expect(await all({ stdout: true, stderr: true, tail: 0 })).toEqual([]);
  });

  it('filters by since and until', async () => {
    const since = Date.parse('2026-11-28T00:00:02Z') / 1000;
    expect(await all({ stdout: true, stderr: true, since })).toEqual(['two', 'three']);
    expect(await all({ stdout: true, stderr: true, until: since + 1 })).toEqual(['one', 'two']);
  });

  it('follows new lines until the container stops, then ends', async () => {
    let running = true;
    const seen: string[] = [];
    const reader = (async () => {
      for await (const batch of readJsonLog(path, {
        stdout: true,
        stderr: true,
        follow: true,
        isRunning: () => running,
        pollMs: 10,
      })) {
        seen.push(...batch.map((entry) => entry.log.toString().trim()));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The torn line is completed by the writer: it counts now.
    await appendFile(
      path,
      '","stream":"stdout","time":"2026-11-28T00:00:04Z"}\n' + line('stdout', 'five\n', '2026-11-28T00:00:05Z'),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    running = false;
    await reader;
    expect(seen).toEqual(['one', 'two', 'three', 'five']);
  });

  it('reads every text as JSON would, escapes and all, and the stream and time of each line', async () => {
    const texts = [
      'plain\n',
      'no line end yet',
      'a "quoted" word\n',
      'back\\slash\n',
      'tab\there\r\n',
      'bell \u0007 and ü € 😀\n',
      'ends in a backslash \\',
      'looks like a key ","stream":"stderr","time":"x"}\n',
      '\\n is not a line end',
    ];
    const times = texts.map((_, index) => `2026-11-28T00:00:0${index}.123456789Z`);
    await writeFile(
      path,
      texts.map((text, index) => line(index % 2 ? 'stderr' : 'stdout', text, times[index])).join(''),
    );
    const entries: LogEntry[] = [];
    for await (const batch of readJsonLog(path, { stdout: true, stderr: true })) entries.push(...batch);
    expect(entries.map((entry) => entry.log.toString())).toEqual(texts);
    expect(entries.map((entry) => entry.stream)).toEqual(texts.map((_, index) => (index % 2 ? 'stderr' : 'stdout')));
    expect(entries.map((entry) => entry.time)).toEqual(times);
  });

  it('leaves out the times unless asked for them or a time filter needs them', async () => {
    const read = async (query: Parameters<typeof readJsonLog>[1]) => {
      const entries: LogEntry[] = [];
      for await (const batch of readJsonLog(path, query)) entries.push(...batch);
      return entries.map((entry) => `${entry.time}|${entry.log.toString().trim()}`);
    };
    expect(await read({ stdout: true, stderr: true, times: false })).toEqual(['|one', '|two', '|three']);
    const since = Date.parse('2026-11-28T00:00:02Z') / 1000;
    expect(await read({ stdout: true, stderr: true, times: false, since })).toEqual([
      '2026-11-28T00:00:02.5Z|two',
      '2026-11-28T00:00:03Z|three',
    ]);
  });

  it('hands a large log over in a few batches, with every line whole and in order', async () => {
    // 20,000 lines of about 120 bytes (some with characters of several bytes): over 2 MiB, so
    // reads are cut mid-line and maybe mid-character.
    const lines = Array.from({ length: 20_000 }, (_, index) => `${index} ${'ü€x'.repeat(30)}\n`);
    await writeFile(path, lines.map((text, index) => line('stdout', text, `2026-11-28T00:00:${index % 60}Z`)).join(''));
    const batches: LogEntry[][] = [];
    for await (const batch of readJsonLog(path, { stdout: true, stderr: true })) batches.push(batch);
    expect(batches.flat().map((entry) => entry.log.toString())).toEqual(lines);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.length).toBeLessThan(20);
  });

  it('keeps a line longer than one read, and the tail of a log read in several', async () => {
    const long = `${'y'.repeat(3 * 1024 * 1024)}\n`;
    await writeFile(
      path,
      line('stdout', 'first\n', '2026-11-28T00:00:01Z') +
        line('stdout', long, '2026-11-28T00:00:02Z') +
        line('stderr', 'last\n', '2026-11-28T00:00:03Z'),
    );
    const entries: LogEntry[] = [];
    for await (const batch of readJsonLog(path, { stdout: true, stderr: true })) entries.push(...batch);
    expect(entries.map((entry) => entry.log.length)).toEqual([6, long.length, 5]);
    expect((await all({ stdout: true, stderr: true, tail: 2 })).map((text) => text.length)).toEqual([
      long.length - 1,
      4,
    ]);
  });

  it('wakes a follower as soon as the log grows, long before its poll time', async () => {
    const controller = new AbortController();
    const arrived: number[] = [];
    let written = 0;
    const reader = (async () => {
      for await (const batch of readJsonLog(path, {
        stdout: true,
        stderr: true,
        follow: true,
        isRunning: () => true,
        pollMs: 60_000,
        signal: controller.signal,
      })) {
        if (batch.some((entry) => entry.log.toString() === 'four\n')) arrived.push(performance.now() - written);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    written = performance.now();
    await appendFile(
      path,
      '","stream":"stdout","time":"2026-11-28T00:00:04Z"}\n' + line('stdout', 'four\n', '2026-11-28T00:00:04Z'),
    );
    await vi.waitFor(() => expect(arrived).toHaveLength(1), { timeout: 5_000 });
    expect(arrived[0]).toBeLessThan(1_000);
    controller.abort();
    await reader;
  });

  it('yields nothing for a container that never wrote a log', async () => {
    expect(await all({ stdout: true, stderr: true })).toHaveLength(3);
    await rm(path);
    expect(await all({ stdout: true, stderr: true })).toEqual([]);
  });
});

describe('parseLogTime', () => {
  it('reads Unix seconds, RFC 3339 and durations back from now', () => {
    expect(parseLogTime('1700000000.5')).toBe(1700000000.5);
    expect(parseLogTime('2026-11-28T00:00:00Z')).toBe(Date.parse('2026-11-28T00:00:00Z') / 1000);
    expect(parseLogTime('10m', 1_000_000_000)).toBe(1_000_000 - 600);
    expect(parseLogTime('')).toBeUndefined();
  });

  it('keeps the sub-millisecond digits that Date would drop', () => {
    expect(rfc3339Seconds('2026-11-28T00:00:01.000500000Z') - Date.parse('2026-11-28T00:00:01Z') / 1000).toBeCloseTo(
      0.0005,
      6,
    );
  });
});
