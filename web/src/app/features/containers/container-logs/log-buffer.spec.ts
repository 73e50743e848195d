import { describe, expect, it } from 'vitest';

import { LogBuffer, splitTimestamp } from './log-buffer';

describe(splitTimestamp.name, () => {
  it("takes Docker's RFC 3339 prefix off the line", () => {
    expect(splitTimestamp('2024-01-01T00:00:00.123456789Z hello world')).toEqual({
      time: '2024-01-01T00:00:00.123456789Z',
      text: 'hello world',
    });
    expect(splitTimestamp('2024-01-01T02:00:00+02:00 with an offset')).toEqual({
      time: '2024-01-01T02:00:00+02:00',
      text: 'with an offset',
    });
  });

  it('keeps the spaces of the line after the prefix', () => {
    expect(splitTimestamp('2024-01-01T00:00:00Z   indented').text).toBe('  indented');
  });

  it('leaves a line without a prefix whole', () => {
    expect(splitTimestamp('plain line')).toEqual({ time: '', text: 'plain line' });
    expect(splitTimestamp('2024-01-01 not docker')).toEqual({ time: '', text: '2024-01-01 not docker' });
    expect(splitTimestamp('')).toEqual({ time: '', text: '' });
  });
});

describe(LogBuffer.name, () => {
  it('keeps lines in order with their stream and a growing sequence number', () => {
    const buffer = new LogBuffer(10);
    buffer.add('stdout', ['2024-01-01T00:00:00Z out one', '2024-01-01T00:00:01Z out two']);
    buffer.add('stderr', ['2024-01-01T00:00:02Z err one']);
    expect(buffer.snapshot()).toEqual([
      { seq: 0, stream: 'stdout', time: '2024-01-01T00:00:00Z', text: 'out one' },
      { seq: 1, stream: 'stdout', time: '2024-01-01T00:00:01Z', text: 'out two' },
      { seq: 2, stream: 'stderr', time: '2024-01-01T00:00:02Z', text: 'err one' },
    ]);
  });

  it('drops the oldest lines beyond its capacity and counts them', () => {
    const buffer = new LogBuffer(3);
    buffer.add('stdout', ['1', '2']);
    buffer.add('stdout', ['3', '4', '5']);
    expect(buffer.snapshot().map((line) => line.text)).toEqual(['3', '4', '5']);
    expect(buffer.dropped).toBe(2);
  });

  it('gives a new array on every snapshot, so a signal holding it sees the change', () => {
    const buffer = new LogBuffer(5);
    buffer.add('stdout', ['a']);
    const first = buffer.snapshot();
    buffer.add('stdout', ['b']);
    expect(buffer.snapshot()).not.toBe(first);
    expect(first.map((line) => line.text)).toEqual(['a']);
  });

  it('empties on clear and keeps numbering, so a line is never tracked twice', () => {
    const buffer = new LogBuffer(5);
    buffer.add('stdout', ['a', 'b']);
    buffer.clear();
    expect(buffer.snapshot()).toEqual([]);
    buffer.add('stderr', ['c']);
    expect(buffer.snapshot()).toEqual([{ seq: 2, stream: 'stderr', time: '', text: 'c' }]);
  });
});
