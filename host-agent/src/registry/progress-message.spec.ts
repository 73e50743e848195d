import { describe, expect, it } from 'vitest';

import {
  humanSize,
  layerMessage,
  layerProgress,
  progressBar,
  ProgressThrottle,
  statusMessage,
} from './progress-message.js';

describe('progress messages', () => {
  it('formats sizes as Docker does: decimal units, four significant digits', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(512)).toBe('512B');
    expect(humanSize(2500)).toBe('2.5kB');
    expect(humanSize(1_234_567)).toBe('1.235MB');
    expect(humanSize(20_971_520)).toBe('20.97MB');
  });

  it("draws dockerd's fifty-column bar", () => {
    expect(progressBar(10_485_760, 20_971_520)).toBe(`[${'='.repeat(25)}>${' '.repeat(25)}]  10.49MB/20.97MB`);
    expect(progressBar(100, 100)).toBe(`[${'='.repeat(50)}>] ${'100B'.padStart(8)}/100B`);
  });

  it('makes the lines the docker CLI reads', () => {
    expect(statusMessage('Pulling from library/busybox', 'latest')).toEqual({
      status: 'Pulling from library/busybox',
      id: 'latest',
    });
    expect(layerMessage('8a3c2e1d5b4f', 'Pull complete')).toEqual({
      status: 'Pull complete',
      progressDetail: {},
      id: '8a3c2e1d5b4f',
    });
    expect(layerProgress('8a3c2e1d5b4f', 'Downloading', 1, 2)).toMatchObject({
      status: 'Downloading',
      progressDetail: { current: 1, total: 2 },
      id: '8a3c2e1d5b4f',
    });
  });

  it('throttles bars per layer but always lets the last one through', () => {
    let now = 0;
    const throttle = new ProgressThrottle(100, () => now);
    expect(throttle.due('a', 1, 10)).toBe(true);
    expect(throttle.due('a', 2, 10)).toBe(false);
    expect(throttle.due('b', 2, 10)).toBe(true);
    expect(throttle.due('a', 10, 10)).toBe(true);
    now = 150;
    expect(throttle.due('a', 5, 10)).toBe(true);
  });
});
