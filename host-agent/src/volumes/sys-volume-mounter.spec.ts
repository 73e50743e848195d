import { describe, expect, it } from 'vitest';
import { FakeSysCalls } from '../sys/fake-sys-calls.js';
import { SysVolumeMounter, mountPoints } from './sys-volume-mounter.js';

describe(mountPoints.name, () => {
  it('reads the mount point of each line, decoding octal escapes', () => {
    const mountinfo = [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '42 22 0:39 / /var/lib/skiff/volumes/my\\040cache/_data rw,relatime - tmpfs tmpfs rw,size=1024k',
      '',
    ].join('\n');

    expect(mountPoints(mountinfo)).toEqual(['/', '/var/lib/skiff/volumes/my cache/_data']);
  });
});

describe(SysVolumeMounter.name, () => {
  it('mounts a read-only bind in two passes and sets its propagation in a third, as mount(8) does', async () => {
    const sys = new FakeSysCalls();
    await new SysVolumeMounter(sys).mount('/srv/data', '/v/_data', 'none', ['bind', 'ro', 'rprivate'], '');
    expect(sys.calls).toEqual([
      {
        call: 'mount',
        request: { source: '/srv/data', target: '/v/_data', fstype: 'none', flags: ['bind', 'rdonly'], data: '' },
      },
      {
        call: 'mount',
        request: { source: 'none', target: '/v/_data', fstype: '', flags: ['remount', 'bind', 'rdonly'] },
      },
      { call: 'mount', request: { source: 'none', target: '/v/_data', fstype: '', flags: ['private', 'rec'] } },
    ]);
  });

  it('mounts a tmpfs with its data in one call', async () => {
    const sys = new FakeSysCalls();
    await new SysVolumeMounter(sys).mount('tmpfs', '/v/_data', 'tmpfs', ['nosuid'], 'size=1m');
    expect(sys.calls).toEqual([
      {
        call: 'mount',
        request: { source: 'tmpfs', target: '/v/_data', fstype: 'tmpfs', flags: ['nosuid'], data: 'size=1m' },
      },
    ]);
  });

  it('answers EINVAL when asked to unmount what is not mounted, as the store expects', async () => {
    await expect(new SysVolumeMounter(new FakeSysCalls()).unmount('/v/_data')).rejects.toMatchObject({
      code: 'EINVAL',
    });
  });
});
