import { describe, expect, it } from 'vitest';
import { Clock } from './clock.js';
import {
  LOGIN_WINDOW_MS,
  LoginThrottleService,
  MAX_FAILURES_PER_ACCOUNT,
  MAX_FAILURES_PER_ADDRESS,
} from './login-throttle.service.js';

class FakeClock extends Clock {
  at = Date.parse('2026-11-28T00:00:00Z');
  override now(): Date {
    return new Date(this.at);
  }
}

const setup = () => {
  const clock = new FakeClock();
  return { clock, throttle: new LoginThrottleService(clock) };
};

describe(LoginThrottleService.name, () => {
  it('lets an account fail up to its limit, then refuses it', () => {
    const { throttle } = setup();
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) {
      expect(() => throttle.check('alice', '10.0.0.1')).not.toThrow();
      throttle.recordFailure('alice', `10.0.0.${i}`);
    }
    expect(() => throttle.check('alice', '10.0.0.99')).toThrow(/account "alice"; try again in 15 minutes/);
  });

  it('counts an account case-insensitively', () => {
    const { throttle } = setup();
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) throttle.recordFailure(i % 2 ? 'Alice' : 'alice', null);
    expect(() => throttle.check('ALICE', null)).toThrow(/too many/);
  });

  it('lets the account try again once the oldest failures leave the window', () => {
    const { clock, throttle } = setup();
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) {
      throttle.recordFailure('alice', null);
      clock.at += 60_000;
    }
    expect(() => throttle.check('alice', null)).toThrow();
    clock.at += LOGIN_WINDOW_MS - MAX_FAILURES_PER_ACCOUNT * 60_000 + 1;
    expect(() => throttle.check('alice', null)).not.toThrow();
  });

  it("forgets an account's failures after a successful sign-in", () => {
    const { throttle } = setup();
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT - 1; i++) throttle.recordFailure('alice', null);
    throttle.recordSuccess('alice');
    throttle.recordFailure('alice', null);
    expect(() => throttle.check('alice', null)).not.toThrow();
  });

  it('refuses an address that fails across many accounts, without locking those accounts elsewhere', () => {
    const { throttle } = setup();
    for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) throttle.recordFailure(`user${i}`, '192.0.2.7');
    expect(() => throttle.check('bob', '192.0.2.7')).toThrow(/from 192\.0\.2\.7/);
    expect(() => throttle.check('user1', '192.0.2.8')).not.toThrow();
  });
});
