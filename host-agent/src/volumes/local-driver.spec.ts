import { describe, expect, it } from 'vitest';
import { EngineError } from '../engine-error.js';
import { planLocalMount } from './local-driver.js';

const rejection = (options: Record<string, string>): EngineError => {
  try {
    planLocalMount('data', options);
  } catch (error) {
    return error as EngineError;
  }
  throw new Error('expected planLocalMount to throw');
};

describe(planLocalMount.name, () => {
  it('plans no mount for a plain volume', () => {
    expect(planLocalMount('data', {})).toBeUndefined();
  });

  it('plans a tmpfs mount with its size as data', () => {
    expect(planLocalMount('data', { type: 'tmpfs', device: 'tmpfs', o: 'size=100m,uid=1000' })).toEqual({
      source: 'tmpfs',
      fstype: 'tmpfs',
      flags: [],
      data: 'size=100m,uid=1000',
      ephemeral: true,
    });
  });

  it('plans a bind of a host directory', () => {
    expect(planLocalMount('data', { type: 'none', o: 'bind', device: '/srv/data' })).toEqual({
      source: '/srv/data',
      fstype: 'none',
      flags: ['bind'],
      data: '',
      bindSource: '/srv/data',
      ephemeral: false,
    });
  });

  it('plans a block device mount without options', () => {
    expect(planLocalMount('data', { type: 'ext4', device: '/dev/sdb1' })).toMatchObject({
      source: '/dev/sdb1',
      fstype: 'ext4',
      flags: [],
      data: '',
      ephemeral: false,
    });
  });

  it.each([
    [{ type: 'tmpfs' }, 'option device is required'],
    [{ device: 'tmpfs' }, 'option type is required'],
    [{ o: 'size=1m' }, 'option type is required'],
    [{ type: 'tmpfs', o: 'size=1m' }, 'option device is required'],
    [{ type: '', device: 'tmpfs' }, 'option type is empty'],
  ])('refuses incomplete options %j', (options, message) => {
    const error = rejection(options);
    expect(error.kind).toBe('invalid-argument');
    expect(error.message).toContain(message);
  });

  it('refuses an unknown option, naming it and the volume', () => {
    const error = rejection({ type: 'tmpfs', device: 'tmpfs', colour: 'blue' });
    expect(error.kind).toBe('invalid-argument');
    expect(error.message).toBe(
      'invalid options for volume data: unknown option "colour", the local driver takes type, device and o',
    );
  });

  it('refuses a size quota', () => {
    expect(rejection({ size: '10G' }).message).toContain('option size (a disk quota) is not supported');
  });

  it('refuses type none without bind', () => {
    expect(rejection({ type: 'none', device: '/srv/data', o: 'ro' }).message).toContain('type none needs o=bind');
  });

  it('refuses a bind of a relative path', () => {
    expect(rejection({ type: 'none', device: 'srv/data', o: 'bind' }).message).toContain(
      'bind device must be an absolute path, got "srv/data"',
    );
  });

  it('refuses remount', () => {
    expect(rejection({ type: 'tmpfs', device: 'tmpfs', o: 'remount' }).message).toContain('remount');
  });
});
