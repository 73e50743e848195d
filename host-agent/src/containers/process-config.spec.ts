import { describe, expect, it } from 'vitest';
import { DEFAULT_PATH, effectiveArgs, effectiveEnv, resolveUser } from './process-config.js';

describe('effectiveArgs', () => {
  const image = { Entrypoint: ['/entry.sh'], Cmd: ['serve'] };

  it('runs the image entrypoint with the image command by default', () => {
    expect(effectiveArgs({ cmd: null, entrypoint: null }, image)).toEqual(['/entry.sh', 'serve']);
  });

  it('replaces only the command when a command is given', () => {
    expect(effectiveArgs({ cmd: ['debug'], entrypoint: null }, image)).toEqual(['/entry.sh', 'debug']);
  });

  it('drops the image command when the entrypoint is replaced', () => {
    expect(effectiveArgs({ cmd: null, entrypoint: ['sh'] }, image)).toEqual(['sh']);
    expect(effectiveArgs({ cmd: ['-c', 'id'], entrypoint: ['sh'] }, image)).toEqual(['sh', '-c', 'id']);
  });

  it('refuses a container with nothing to run', () => {
    expect(() => effectiveArgs({ cmd: null, entrypoint: null }, {})).toThrow(/no command specified/);
    expect(() => effectiveArgs({ cmd: null, entrypoint: [''] }, image)).toThrow(/no command specified/);
  });
});

describe('effectiveEnv', () => {
  it('starts from a default PATH and the hostname, then the image, then the request', () => {
    expect(effectiveEnv(['B=request'], { Env: ['A=image', 'B=image'] }, 'abc123', false)).toEqual([
      `PATH=${DEFAULT_PATH}`,
      'HOSTNAME=abc123',
      'A=image',
      'B=request',
    ]);
  });

  it('lets the image set PATH and adds TERM for a terminal', () => {
    expect(effectiveEnv([], { Env: ['PATH=/opt/bin'] }, 'h', true)).toEqual([
      'PATH=/opt/bin',
      'HOSTNAME=h',
      'TERM=xterm',
    ]);
  });
});

describe('resolveUser', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/sh\n';
  const group = 'root:x:0:\nwww:x:33:\nstaff:x:50:www\n';

  it('is root by default', () => {
    expect(resolveUser('', passwd, group)).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/root' });
  });

  it('is root by default in an image without /etc/passwd (FROM scratch), but a name needs an entry', () => {
    expect(resolveUser('', null, null)).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/' });
    expect(() => resolveUser('root', null, null)).toThrow(/unable to find user root/);
  });

  it('resolves a name with its primary and supplementary groups', () => {
    expect(resolveUser('www', passwd, group)).toEqual({ uid: 33, gid: 33, additionalGids: [50], home: '/var/www' });
  });

  it('takes numeric ids that the image does not know', () => {
    expect(resolveUser('1000:1000', passwd, group)).toEqual({ uid: 1000, gid: 1000, additionalGids: [], home: '/' });
  });

  it('resolves a named group and --group-add', () => {
    expect(resolveUser('www:staff', passwd, group, ['root'])).toEqual({
      uid: 33,
      gid: 50,
      additionalGids: [0],
      home: '/var/www',
    });
  });

  it('refuses a user or group the image does not have', () => {
    expect(() => resolveUser('nobody', passwd, group)).toThrow('unable to find user nobody');
    expect(() => resolveUser('www:wheel', passwd, group)).toThrow('unable to find group wheel');
  });
});
