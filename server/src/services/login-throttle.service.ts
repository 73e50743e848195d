import { Injectable } from '@nestjs/common';
import { tooManyRequests } from '../errors/domain-error.js';
import { Clock } from './clock.js';

export const LOGIN_WINDOW_MS = 15 * 60_000;
export const MAX_FAILURES_PER_ACCOUNT = 5;
export const MAX_FAILURES_PER_ADDRESS = 20;

/**
 * Counts failed sign-ins per account and per address over a sliding window and refuses more
 * attempts once either is over its limit. Kept in memory: per server replica, reset on restart.
 */
@Injectable()
export class LoginThrottleService {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly clock: Clock) {}

  /** Throws `too-many-requests` when this account or address may not try now. */
  check(username: string, address: string | null): void {
    const now = this.clock.now().getTime();
    const accountWait = this.waitMs(accountKey(username), MAX_FAILURES_PER_ACCOUNT, now);
    if (accountWait > 0) {
      throw tooManyRequests(
        `too many failed sign-in attempts for account "${username}"; try again in ${minutes(accountWait)}`,
      );
    }
    if (address) {
      const addressWait = this.waitMs(addressKey(address), MAX_FAILURES_PER_ADDRESS, now);
      if (addressWait > 0) {
        throw tooManyRequests(`too many failed sign-in attempts from ${address}; try again in ${minutes(addressWait)}`);
      }
    }
  }

  recordFailure(username: string, address: string | null): void {
    const now = this.clock.now().getTime();
    this.push(accountKey(username), now);
    if (address) this.push(addressKey(address), now);
  }

  recordSuccess(username: string): void {
    this.failures.delete(accountKey(username));
  }

  private push(key: string, now: number): void {
    const recent = this.recent(key, now);
    recent.push(now);
    this.failures.set(key, recent);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((at) => now - at < LOGIN_WINDOW_MS);
  }

  /** How long until the oldest failure that keeps the count at the limit leaves the window. */
  private waitMs(key: string, limit: number, now: number): number {
    const recent = this.recent(key, now);
    if (recent.length === 0) this.failures.delete(key);
    if (recent.length < limit) return 0;
    const oldestCounting = recent[recent.length - limit] ?? now;
    return oldestCounting + LOGIN_WINDOW_MS - now;
  }
}

const accountKey = (username: string) => `account:${username.toLowerCase()}`;
const addressKey = (address: string) => `address:${address}`;
const minutes = (ms: number) => {
  const count = Math.max(1, Math.ceil(ms / 60_000));
  return count === 1 ? '1 minute' : `${count} minutes`;
};
