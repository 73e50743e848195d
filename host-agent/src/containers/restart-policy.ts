import type { RestartPolicy } from './create-request.js';

/** The first wait before a restart; each restart in a row doubles it. */
export const RESTART_FIRST_DELAY_MS = 100;
/** The longest wait between restarts. */
export const RESTART_MAX_DELAY_MS = 60_000;
/** A container that ran at least this long starts its back-off again from the first delay. */
export const RESTART_RESET_AFTER_MS = 10_000;

/** What the engine knows when a container has exited. */
export interface ExitFacts {
  policy: RestartPolicy;
  exitCode: number;
  /** Stopped or killed through the API (docker stop, kill, rm -f) since its last start. */
  manuallyStopped: boolean;
  /** Restarts by the policy so far (`RestartCount`). */
  restartCount: number;
  /** How long it ran before it exited. */
  ranForMs: number;
  /** The wait before the previous restart, 0 when there was none. */
  previousDelayMs: number;
}

/**
 * Docker's restart manager: whether an exited container starts again, and after how long.
 * `always` and `unless-stopped` restart whatever the exit code, `on-failure[:N]` on a non-zero
 * code while fewer than N restarts were made (no limit when N is 0), and none restarts a
 * container that was stopped through the API. The wait doubles from 100 ms up to a minute, and
 * starts again from 100 ms once a container ran for 10 s.
 */
export function restartAfterExit(facts: ExitFacts): { restart: boolean; delayMs: number } {
  const previous = facts.ranForMs >= RESTART_RESET_AFTER_MS ? 0 : facts.previousDelayMs;
  const delayMs = previous === 0 ? RESTART_FIRST_DELAY_MS : Math.min(previous * 2, RESTART_MAX_DELAY_MS);
  if (facts.manuallyStopped) return { restart: false, delayMs };
  return { restart: wantsRestart(facts.policy, facts.exitCode, facts.restartCount), delayMs };
}

/**
 * When the engine starts: which containers that are not running start again. `always` does even
 * after a manual stop (as Docker's daemon does on its own start), `unless-stopped` unless it was
 * stopped by hand, `on-failure` when it last failed and has retries left.
 */
export function restartOnEngineStart(
  facts: Pick<ExitFacts, 'policy' | 'exitCode' | 'manuallyStopped' | 'restartCount'>,
) {
  switch (facts.policy.name) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !facts.manuallyStopped;
    case 'on-failure':
      return !facts.manuallyStopped && wantsRestart(facts.policy, facts.exitCode, facts.restartCount);
    default:
      return false;
  }
}

function wantsRestart(policy: RestartPolicy, exitCode: number, restartCount: number): boolean {
  switch (policy.name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (policy.maximumRetryCount === 0 || restartCount < policy.maximumRetryCount);
    default:
      return false;
  }
}
