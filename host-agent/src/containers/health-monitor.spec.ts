import { describe, expect, it } from 'vitest';
import type { HealthResult, HealthState } from './container-record.js';
import { HEALTH_LOG_ENTRIES, applyProbe } from './health-monitor.js';

const result = (exitCode: number, output = ''): HealthResult => ({
  Start: '2026-01-01T00:00:00.000Z',
  End: '2026-01-01T00:00:00.010Z',
  ExitCode: exitCode,
  Output: output,
});
const starting: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };
const outside = { retries: 3, inStartPeriod: false };

describe('applying a health probe', () => {
  it('makes a container healthy on a success and clears its failing streak', () => {
    const failing = { Status: 'healthy' as const, FailingStreak: 2, Log: [] };
    expect(applyProbe(failing, result(0, 'ok'), outside)).toMatchObject({ Status: 'healthy', FailingStreak: 0 });
    expect(applyProbe(starting, result(0), outside).Status).toBe('healthy');
  });

  it('makes it unhealthy once the failures in a row reach the retries', () => {
    let state: HealthState = { Status: 'healthy', FailingStreak: 0, Log: [] };
    state = applyProbe(state, result(1), outside);
    state = applyProbe(state, result(1), outside);
    expect(state).toMatchObject({ Status: 'healthy', FailingStreak: 2 });
    state = applyProbe(state, result(-1, 'timed out'), outside);
    expect(state).toMatchObject({ Status: 'unhealthy', FailingStreak: 3 });
    expect(applyProbe(state, result(0), outside).Status).toBe('healthy');
  });

  it('does not count failures in the start period until the container was once healthy', () => {
    const during = { retries: 1, inStartPeriod: true };
    expect(applyProbe(starting, result(1), during)).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    const healthy: HealthState = { Status: 'healthy', FailingStreak: 0, Log: [] };
    expect(applyProbe(healthy, result(1), during)).toMatchObject({ Status: 'unhealthy', FailingStreak: 1 });
  });

  it('keeps the last five probes, oldest first', () => {
    let state = starting;
    for (let probe = 0; probe < 8; probe++) state = applyProbe(state, result(0, `probe ${probe}`), outside);
    expect(state.Log.map((entry) => entry.Output)).toEqual(['probe 3', 'probe 4', 'probe 5', 'probe 6', 'probe 7']);
    expect(state.Log).toHaveLength(HEALTH_LOG_ENTRIES);
  });
});
