import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
    for await (const entry of readJsonLog(path, query)) entries.push(entry);
    return entries.map((entry) => entry.log.trim());
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
      for await (const entry of readJsonLog(path, {
        stdout: true,
        stderr: true,
        follow: true,
        isRunning: () => running,
        pollMs: 10,
      })) {
        seen.push(entry.log.trim());
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
