import { describe, expect, it } from 'vitest';

import { formatByteSize } from './byte-size';

describe(formatByteSize.name, () => {
  it('counts in binary units', () => {
    expect(formatByteSize(0)).toBe('0 B');
    expect(formatByteSize(1023)).toBe('1023 B');
    expect(formatByteSize(1024)).toBe('1 KiB');
    expect(formatByteSize(17179869184)).toBe('16 GiB');
    expect(formatByteSize(2 * 1024 ** 5)).toBe('2 PiB');
  });

  it('keeps one decimal below 100 and none from 100 up, without a trailing .0', () => {
    expect(formatByteSize(1536)).toBe('1.5 KiB');
    expect(formatByteSize(12.34 * 1024 ** 2)).toBe('12.3 MiB');
    expect(formatByteSize(150.6 * 1024 ** 2)).toBe('151 MiB');
    expect(formatByteSize(4 * 1024 ** 3)).toBe('4 GiB');
  });

  it('moves to the next unit when rounding reaches 1024', () => {
    expect(formatByteSize(1024 ** 2 - 1)).toBe('1 MiB');
    expect(formatByteSize(1024 ** 3 - 1)).toBe('1 GiB');
  });

  it('stays in PiB for anything larger', () => {
    expect(formatByteSize(3 * 1024 ** 6)).toBe('3072 PiB');
  });

  it('shows a dash for what is not a size', () => {
    expect(formatByteSize(-1)).toBe('—');
    expect(formatByteSize(Number.NaN)).toBe('—');
    expect(formatByteSize(Number.POSITIVE_INFINITY)).toBe('—');
  });
});
