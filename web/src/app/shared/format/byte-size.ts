const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** 17179869184 → "16 GiB"; binary units, because that is how memory is sold and reported by the kernel. */
export function formatByteSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) {
    return '—';
  }
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  // Drop a trailing ".0" so 16 GiB does not read as 16.0 GiB.
  return `${Number(value.toFixed(digits))} ${UNITS[unit]}`;
}
