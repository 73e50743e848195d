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
  let shown = round(value, unit);
  // 1048575 B is 1023.999 KiB, which rounds to 1024: that is 1 MiB.
  if (shown >= 1024 && unit < UNITS.length - 1) {
    unit += 1;
    shown = round(value / 1024, unit);
  }
  return `${shown} ${UNITS[unit]}`;
}

/** One decimal below 100, none from 100 up or for bytes; Number() drops a trailing ".0" (16 GiB, not 16.0 GiB). */
function round(value: number, unit: number): number {
  return Number(value.toFixed(unit === 0 || value >= 100 ? 0 : 1));
}
