import { describe, expect, it } from 'vitest';
import { privilegedReasons } from './engine-privilege.js';

const create = (hostConfig: Record<string, unknown>) =>
  privilegedReasons('POST /containers/create', { Image: 'busybox', HostConfig: hostConfig }, new URLSearchParams());

describe('privilegedReasons', () => {
  it('finds nothing in an ordinary docker run', () => {
    expect(
      create({
        Binds: ['data:/data', 'cache:/cache:ro'],
        Mounts: [
          { Type: 'volume', Source: 'v', Target: '/v' },
          { Type: 'tmpfs', Target: '/t' },
        ],
        NetworkMode: 'default',
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Memory: 1 << 26,
      }),
    ).toEqual([]);
    expect(privilegedReasons('POST /containers/create', { Image: 'busybox' }, new URLSearchParams())).toEqual([]);
  });

  it('names privileged mode, host paths, capabilities and host namespaces', () => {
    expect(
      create({
        Privileged: true,
        Binds: ['/etc:/host-etc:ro'],
        Mounts: [{ Type: 'bind', Source: '/var/run', Target: '/run' }],
        CapAdd: ['SYS_ADMIN'],
        NetworkMode: 'host',
        PidMode: 'host',
        Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }],
        SecurityOpt: ['seccomp=unconfined'],
      }),
    ).toEqual([
      'privileged mode',
      'host bind mount of /etc',
      'host bind mount of /var/run',
      'added capabilities SYS_ADMIN',
      'the host network',
      "the host's process namespace",
      'host devices',
      'security option seccomp=unconfined',
    ]);
  });

  it('matches field names in any case, as Go decodes them', () => {
    expect(
      privilegedReasons(
        'POST /containers/create',
        { hostconfig: { privileged: true, BINDS: ['/:/host'] } },
        new URLSearchParams(),
      ),
    ).toEqual(['privileged mode', 'host bind mount of /']);
  });

  it('sees a host path hidden in a volume of the local driver', () => {
    expect(
      privilegedReasons(
        'POST /volumes/create',
        { Name: 'etc', DriverOpts: { type: 'none', o: 'bind', device: '/etc' } },
        new URLSearchParams(),
      ),
    ).toEqual(['a volume on the host path /etc']);
    expect(
      create({
        Mounts: [
          {
            Type: 'volume',
            Target: '/x',
            VolumeOptions: { DriverConfig: { Name: 'local', Options: { device: '/root', o: 'bind' } } },
          },
        ],
      }),
    ).toEqual(['a volume on the host path /root']);
    expect(privilegedReasons('POST /volumes/create', { Name: 'plain' }, new URLSearchParams())).toEqual([]);
  });

  it('finds privileged exec and host-network builds', () => {
    expect(
      privilegedReasons('POST /containers/{id}/exec', { Cmd: ['sh'], Privileged: true }, new URLSearchParams()),
    ).toEqual(['a privileged exec']);
    expect(privilegedReasons('POST /containers/{id}/exec', { Cmd: ['sh'] }, new URLSearchParams())).toEqual([]);
    expect(privilegedReasons('POST /build', undefined, new URLSearchParams('networkmode=host'))).toEqual([
      'a build on the host network',
    ]);
  });
});
