/** Durations in milliseconds, and the order statistics a results table shows. */
export class LatencySample {
  private readonly values: number[] = [];
  private sorted: number[] | undefined;

  add(ms: number): void {
    this.values.push(ms);
    this.sorted = undefined;
  }

  get count(): number {
    return this.values.length;
  }

  /** The nearest-rank percentile (0 < p ≤ 100); NaN when empty. */
  percentile(p: number): number {
    const sorted = (this.sorted ??= [...this.values].sort((a, b) => a - b));
    if (sorted.length === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    return sorted[Math.min(rank, sorted.length) - 1];
  }

  get p50(): number {
    return this.percentile(50);
  }

  get p99(): number {
    return this.percentile(99);
  }

  get min(): number {
    return this.percentile(Number.MIN_VALUE);
  }

  get max(): number {
    return this.percentile(100);
  }

  get mean(): number {
    return this.values.length === 0 ? Number.NaN : this.values.reduce((sum, value) => sum + value, 0) / this.count;
  }
}

/** Milliseconds on the monotonic clock, with sub-millisecond precision. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
