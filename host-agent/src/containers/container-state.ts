import { conflict } from '../engine-error.js';

/** Docker's container states, as `State.Status` shows them. */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'removing' | 'dead';

export type ContainerAction =
  'start' | 'stop' | 'kill' | 'restart' | 'pause' | 'unpause' | 'exec' | 'attach' | 'remove' | 'update' | 'rename';

/**
 * The lifecycle as one table: which actions each state allows. `noop` means the action is
 * accepted but changes nothing (Docker answers 304 Not Modified for start of a running
 * container and stop of a stopped one).
 */
const TABLE: Record<ContainerStatus, Partial<Record<ContainerAction, 'ok' | 'noop'>>> = {
  created: { start: 'ok', stop: 'noop', restart: 'ok', attach: 'ok', remove: 'ok', update: 'ok', rename: 'ok' },
  running: {
    start: 'noop',
    stop: 'ok',
    kill: 'ok',
    restart: 'ok',
    pause: 'ok',
    exec: 'ok',
    attach: 'ok',
    update: 'ok',
    rename: 'ok',
  },
  paused: { stop: 'ok', kill: 'ok', restart: 'ok', unpause: 'ok', attach: 'ok', update: 'ok', rename: 'ok' },
  restarting: { stop: 'ok', kill: 'ok', restart: 'ok', attach: 'ok', update: 'ok', rename: 'ok' },
  exited: { start: 'ok', stop: 'noop', restart: 'ok', attach: 'ok', remove: 'ok', update: 'ok', rename: 'ok' },
  removing: {},
  dead: { remove: 'ok' },
};

/** 'ok' or 'noop'; throws a conflict that says what is wrong and what to do otherwise. */
export function checkTransition(status: ContainerStatus, action: ContainerAction, name: string): 'ok' | 'noop' {
  const verdict = TABLE[status][action];
  if (verdict) return verdict;
  throw conflict(refusal(status, action, name));
}

function refusal(status: ContainerStatus, action: ContainerAction, name: string): string {
  if (status === 'removing') return `container ${name} is being removed`;
  switch (action) {
    case 'remove':
      return status === 'paused'
        ? `cannot remove container ${name}: it is paused; unpause and stop it first, or force the removal (docker rm -f)`
        : `cannot remove container ${name}: it is running; stop it first, or force the removal (docker rm -f)`;
    case 'pause':
      return status === 'paused'
        ? `container ${name} is already paused`
        : `cannot pause container ${name}: it is not running`;
    case 'unpause':
      return `cannot unpause container ${name}: it is not paused`;
    case 'exec':
      return status === 'paused' ? `container ${name} is paused; unpause it first` : `container ${name} is not running`;
    case 'kill':
      return `cannot kill container ${name}: it is not running`;
    case 'start':
      return status === 'paused'
        ? `cannot start container ${name}: it is paused; unpause it instead`
        : `cannot start container ${name} while it is ${status}`;
    case 'stop':
    case 'restart':
    case 'attach':
    case 'update':
    case 'rename':
      return `cannot ${action} container ${name} while it is ${status}`;
  }
}

/** Running in Docker's sense: `State.Running` is true while paused or restarting too. */
export function isRunning(status: ContainerStatus): boolean {
  return status === 'running' || status === 'paused' || status === 'restarting';
}
