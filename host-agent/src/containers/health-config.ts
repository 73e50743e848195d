import { invalidArgument } from '../engine-error.js';
import type { HealthConfig } from '../images/image-config.js';

/** Docker's defaults for what a healthcheck leaves out. */
export const HEALTH_DEFAULTS = {
  intervalMs: 30_000,
  timeoutMs: 30_000,
  startPeriodMs: 0,
  startIntervalMs: 5_000,
  retries: 3,
} as const;

/** The shortest interval, timeout, start period or start interval Docker accepts (1 ms), in ns. */
const MIN_DURATION_NS = 1_000_000;

/** A healthcheck ready to run: the probe's argv and its timing in milliseconds. */
export interface HealthProbe {
  argv: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

/**
 * `Config.Healthcheck` of a create request, checked: Test is empty (inherit the image's),
 * ["NONE"], ["CMD", arg…] or ["CMD-SHELL", command]; durations are nanoseconds, 0 or at least
 * 1 ms; Retries is a non-negative integer.
 */
export function parseHealthcheck(value: unknown): HealthConfig | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument('Healthcheck must be an object');
  const input = value as Record<string, unknown>;
  const config: HealthConfig = {};
  if (input.Test !== undefined && input.Test !== null) {
    if (!Array.isArray(input.Test) || input.Test.some((item) => typeof item !== 'string'))
      throw invalidArgument('Healthcheck.Test must be an array of strings');
    const test = input.Test as string[];
    if (test.length > 0) {
      const kind = test[0];
      if (kind === 'NONE') {
        if (test.length > 1) throw invalidArgument('Healthcheck.Test ["NONE"] takes no arguments');
      } else if (kind === 'CMD') {
        if (test.length < 2 || !test[1]) throw invalidArgument('Healthcheck.Test ["CMD", …] needs a command to run');
      } else if (kind === 'CMD-SHELL') {
        if (test.length !== 2 || !test[1].trim())
          throw invalidArgument('Healthcheck.Test ["CMD-SHELL", command] needs exactly one command line');
      } else {
        throw invalidArgument(`Healthcheck.Test must start with NONE, CMD or CMD-SHELL, not "${kind}"`);
      }
    }
    config.Test = test;
  }
  for (const key of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const duration = input[key];
    if (duration === undefined || duration === null) continue;
    if (typeof duration !== 'number' || !Number.isSafeInteger(duration) || duration < 0)
      throw invalidArgument(`Healthcheck.${key} must be a whole number of nanoseconds, 0 or more`);
    if (duration !== 0 && duration < MIN_DURATION_NS)
      throw invalidArgument(`Healthcheck.${key} must be at least 1ms (${MIN_DURATION_NS} ns), or 0 for the default`);
    config[key] = duration;
  }
  if (input.Retries !== undefined && input.Retries !== null) {
    if (typeof input.Retries !== 'number' || !Number.isSafeInteger(input.Retries) || input.Retries < 0)
      throw invalidArgument('Healthcheck.Retries must be a whole number, 0 or more');
    config.Retries = input.Retries;
  }
  return config;
}

/**
 * The container's healthcheck as Docker merges it at create: the request's fields over the
 * image's (an empty Test, a zero duration or zero retries take the image's). Undefined when
 * neither has one.
 */
export function mergeHealthcheck(
  request: HealthConfig | null,
  image: HealthConfig | undefined,
): HealthConfig | undefined {
  if (!request) return image ? { ...image } : undefined;
  if (!image) return { ...request };
  const merged: HealthConfig = { ...image };
  if (request.Test && request.Test.length > 0) merged.Test = request.Test;
  for (const key of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    if (request[key]) merged[key] = request[key];
  }
  return merged;
}

/** What the monitor runs, or undefined when there is nothing to run (no Test, or ["NONE"]). */
export function healthProbe(config: HealthConfig | undefined, shell: string[] | undefined): HealthProbe | undefined {
  const test = config?.Test ?? [];
  if (test.length === 0 || test[0] === 'NONE') return undefined;
  const argv = test[0] === 'CMD-SHELL' ? [...(shell?.length ? shell : ['/bin/sh', '-c']), test[1]] : test.slice(1);
  const ms = (ns: number | undefined, fallback: number) => (ns ? Math.max(1, Math.round(ns / 1e6)) : fallback);
  return {
    argv,
    intervalMs: ms(config?.Interval, HEALTH_DEFAULTS.intervalMs),
    timeoutMs: ms(config?.Timeout, HEALTH_DEFAULTS.timeoutMs),
    startPeriodMs: ms(config?.StartPeriod, HEALTH_DEFAULTS.startPeriodMs),
    startIntervalMs: ms(config?.StartInterval, HEALTH_DEFAULTS.startIntervalMs),
    retries: config?.Retries || HEALTH_DEFAULTS.retries,
  };
}
