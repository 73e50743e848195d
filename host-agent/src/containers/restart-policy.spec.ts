import { describe, expect, it } from 'vitest';
import type { RestartPolicy } from './create-request.js';
import { type ExitFacts, restartAfterExit, restartOnEngineStart } from './restart-policy.js';

const policy = (name: RestartPolicy['name'], maximumRetryCount = 0): RestartPolicy => ({ name, maximumRetryCount });
const exit = (facts: Partial<ExitFacts>): ExitFacts => ({
  policy: policy('no'),
  exitCode: 0,
  manuallyStopped: false,
  restartCount: 0,
  ranForMs: 50,
  previousDelayMs: 0,
  ...facts,
});

describe('restart policies after an exit', () => {
  it('restarts always and unless-stopped containers whatever their exit code, and no container never', () => {
    for (const exitCode of [0, 1, 137]) {
      expect(restartAfterExit(exit({ policy: policy('always'), exitCode })).restart).toBe(true);
      expect(restartAfterExit(exit({ policy: policy('unless-stopped'), exitCode })).restart).toBe(true);
      expect(restartAfterExit(exit({ policy: policy('no'), exitCode })).restart).toBe(false);
    }
  });

  it('restarts on-failure containers on a non-zero code while retries are left', () => {
    expect(restartAfterExit(exit({ policy: policy('on-failure'), exitCode: 0 })).restart).toBe(false);
    expect(restartAfterExit(exit({ policy: policy('on-failure'), exitCode: 2, restartCount: 50 })).restart).toBe(true);
    expect(restartAfterExit(exit({ policy: policy('on-failure', 3), exitCode: 2, restartCount: 2 })).restart).toBe(
      true,
    );
    expect(restartAfterExit(exit({ policy: policy('on-failure', 3), exitCode: 2, restartCount: 3 })).restart).toBe(
      false,
    );
  });

  it('never restarts a container stopped through the API', () => {
    for (const name of ['always', 'unless-stopped', 'on-failure'] as const) {
      expect(restartAfterExit(exit({ policy: policy(name), exitCode: 1, manuallyStopped: true })).restart).toBe(false);
    }
  });

  it('doubles the wait from 100 ms up to a minute, and starts again after 10 s of running', () => {
    const delays: number[] = [];
    let previousDelayMs = 0;
    for (let restart = 0; restart < 12; restart++) {
      previousDelayMs = restartAfterExit(exit({ policy: policy('always'), previousDelayMs })).delayMs;
      delays.push(previousDelayMs);
    }
    expect(delays.slice(0, 4)).toEqual([100, 200, 400, 800]);
    expect(delays.at(-1)).toBe(60_000);
    expect(restartAfterExit(exit({ policy: policy('always'), previousDelayMs: 60_000, ranForMs: 9_999 })).delayMs).toBe(
      60_000,
    );
    expect(
      restartAfterExit(exit({ policy: policy('always'), previousDelayMs: 60_000, ranForMs: 10_000 })).delayMs,
    ).toBe(100);
  });
});

describe('restart policies when the engine starts', () => {
  const facts = (name: RestartPolicy['name'], manuallyStopped: boolean, exitCode = 0, maximumRetryCount = 0) => ({
    policy: policy(name, maximumRetryCount),
    exitCode,
    manuallyStopped,
    restartCount: 1,
  });

  it('starts always containers even after a manual stop, unless-stopped ones only when not stopped by hand', () => {
    expect(restartOnEngineStart(facts('always', true))).toBe(true);
    expect(restartOnEngineStart(facts('unless-stopped', false))).toBe(true);
    expect(restartOnEngineStart(facts('unless-stopped', true))).toBe(false);
    expect(restartOnEngineStart(facts('no', false, 1))).toBe(false);
  });

  it('starts on-failure containers that failed with retries left', () => {
    expect(restartOnEngineStart(facts('on-failure', false, 1))).toBe(true);
    expect(restartOnEngineStart(facts('on-failure', false, 0))).toBe(false);
    expect(restartOnEngineStart(facts('on-failure', false, 1, 1))).toBe(false);
    expect(restartOnEngineStart(facts('on-failure', true, 1))).toBe(false);
  });
});
