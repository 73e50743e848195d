import { describe, expect, it } from 'vitest';
import { checkTransition, isRunning } from './container-state.js';

describe('checkTransition', () => {
  it('starts a created or exited container and treats starting a running one as a no-op', () => {
    expect(checkTransition('created', 'start', 'web')).toBe('ok');
    expect(checkTransition('exited', 'start', 'web')).toBe('ok');
    expect(checkTransition('running', 'start', 'web')).toBe('noop');
  });

  it('treats stopping a stopped container as a no-op', () => {
    expect(checkTransition('exited', 'stop', 'web')).toBe('noop');
    expect(checkTransition('running', 'stop', 'web')).toBe('ok');
  });

  it('refuses to remove a running or paused container without force, saying what to do', () => {
    expect(() => checkTransition('running', 'remove', 'web')).toThrow(
      'cannot remove container web: it is running; stop it first, or force the removal (docker rm -f)',
    );
    expect(() => checkTransition('paused', 'remove', 'web')).toThrow(/it is paused/);
    expect(checkTransition('exited', 'remove', 'web')).toBe('ok');
  });

  it('pauses only a running container and unpauses only a paused one', () => {
    expect(checkTransition('running', 'pause', 'web')).toBe('ok');
    expect(() => checkTransition('exited', 'pause', 'web')).toThrow('cannot pause container web: it is not running');
    expect(() => checkTransition('paused', 'pause', 'web')).toThrow('container web is already paused');
    expect(() => checkTransition('running', 'unpause', 'web')).toThrow(
      'cannot unpause container web: it is not paused',
    );
  });

  it('runs exec only in a running container', () => {
    expect(checkTransition('running', 'exec', 'web')).toBe('ok');
    expect(() => checkTransition('created', 'exec', 'web')).toThrow('container web is not running');
    expect(() => checkTransition('paused', 'exec', 'web')).toThrow(/paused; unpause it first/);
  });

  it('allows nothing but waiting while a container is being removed', () => {
    for (const action of ['start', 'stop', 'remove', 'exec'] as const) {
      expect(() => checkTransition('removing', action, 'web')).toThrow('container web is being removed');
    }
  });

  it('refuses with a conflict, which the API answers with 409', () => {
    try {
      checkTransition('exited', 'kill', 'web');
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ kind: 'conflict' });
    }
  });
});

describe('isRunning', () => {
  it('counts paused and restarting containers as running, as State.Running does', () => {
    expect(
      ['created', 'running', 'paused', 'restarting', 'exited'].map((status) => isRunning(status as never)),
    ).toEqual([false, true, true, true, false]);
  });
});
