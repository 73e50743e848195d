import { describe, expect, it } from 'vitest';

import { formatTimeAgo } from './relative-time';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe(formatTimeAgo.name, () => {
  it('says just now for the last ten seconds and for clocks slightly ahead', () => {
    expect(formatTimeAgo(ago(0), NOW)).toBe('just now');
    expect(formatTimeAgo(ago(9_999), NOW)).toBe('just now');
    expect(formatTimeAgo(ago(-60_000), NOW)).toBe('just now');
  });

  it('counts whole seconds, minutes and hours, rounding down', () => {
    expect(formatTimeAgo(ago(10_000), NOW)).toBe('10 s ago');
    expect(formatTimeAgo(ago(59_999), NOW)).toBe('59 s ago');
    expect(formatTimeAgo(ago(60_000), NOW)).toBe('1 min ago');
    expect(formatTimeAgo(ago(59 * 60_000 + 59_000), NOW)).toBe('59 min ago');
    expect(formatTimeAgo(ago(3 * 3_600_000 + 59 * 60_000), NOW)).toBe('3 h ago');
  });

  it('counts days, with one day in the singular', () => {
    expect(formatTimeAgo(ago(24 * 3_600_000), NOW)).toBe('1 day ago');
    expect(formatTimeAgo(ago(47 * 3_600_000), NOW)).toBe('1 day ago');
    expect(formatTimeAgo(ago(10 * 24 * 3_600_000), NOW)).toBe('10 days ago');
  });

  it('shows a dash for a time it cannot read', () => {
    expect(formatTimeAgo('yesterday', NOW)).toBe('—');
    expect(formatTimeAgo('', NOW)).toBe('—');
  });
});
