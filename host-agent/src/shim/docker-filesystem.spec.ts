import { describe, expect, it } from 'vitest';

import { dockerFilesystem, DOCKER_MASKED_PATHS } from './docker-filesystem.js';
import type { ShimDevice } from './shim-plan.js';

const mountAt = (fs: ReturnType<typeof dockerFilesystem>, target: string) =>
  fs.mounts.filter((m) => m.target === target);

describe(dockerFilesystem.name, () => {
  it('mounts /proc, a tmpfs /dev, devpts, mqueue, /dev/shm and a read-only /sys', () => {
    const fs = dockerFilesystem();
    expect(fs.mounts.map((m) => `${m.type} ${m.target}`)).toEqual([
      'proc /proc',
      'tmpfs /dev',
      'devpts /dev/pts',
      'sysfs /sys',
      'mqueue /dev/mqueue',
      'tmpfs /dev/shm',
    ]);
    expect(mountAt(fs, '/sys')[0]?.flags).toContain('rdonly');
  });

  it('masks /proc/kcore and the other host kernel files, and makes /proc/sys and /proc/sysrq-trigger read-only', () => {
    const fs = dockerFilesystem();
    expect(fs.maskedPaths).toContain('/proc/kcore');
    expect(fs.maskedPaths).toContain('/sys/firmware');
    expect(fs.readonlyPaths).toEqual(expect.arrayContaining(['/proc/sys', '/proc/sysrq-trigger']));
  });

  it('creates the six standard device nodes and the /dev symlinks', () => {
    const fs = dockerFilesystem();
    expect(fs.devices.map((d) => `${d.path} ${d.type} ${d.major}:${d.minor} ${d.fileMode.toString(8)}`)).toEqual([
      '/dev/null c 1:3 666',
      '/dev/zero c 1:5 666',
      '/dev/full c 1:7 666',
      '/dev/random c 1:8 666',
      '/dev/urandom c 1:9 666',
      '/dev/tty c 5:0 666',
    ]);
    expect(fs.symlinks).toContainEqual({ path: '/dev/ptmx', target: 'pts/ptmx' });
    expect(fs.symlinks).toContainEqual({ path: '/dev/fd', target: '/proc/self/fd' });
  });

  it('sizes /dev/shm at 64 MiB unless --shm-size says otherwise', () => {
    expect(mountAt(dockerFilesystem(), '/dev/shm')[0]?.data).toBe('mode=1777,size=65536k');
    expect(mountAt(dockerFilesystem({ shmSizeBytes: 1024 * 1024 * 1024 }), '/dev/shm')[0]?.data).toBe(
      'mode=1777,size=1048576k',
    );
  });

  it('adds --device nodes, a later one replacing a default at the same path', () => {
    const gpu: ShimDevice = { path: '/dev/nvidia0', type: 'c', major: 195, minor: 0, fileMode: 0o660, uid: 0, gid: 0 };
    const tty: ShimDevice = { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o620, uid: 0, gid: 5 };
    const fs = dockerFilesystem({ devices: [gpu, tty] });
    expect(fs.devices).toContainEqual(gpu);
    expect(fs.devices.filter((d) => d.path === '/dev/tty')).toEqual([tty]);
  });

  it('gives a privileged container a writable /sys, no masked or read-only paths, and every host device', () => {
    const sda: ShimDevice = { path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 };
    const fs = dockerFilesystem({ privileged: true, hostDevices: [sda], cgroup: { version: 2 } });
    expect(mountAt(fs, '/sys')[0]?.flags).not.toContain('rdonly');
    expect(mountAt(fs, '/sys/fs/cgroup')[0]?.flags).not.toContain('rdonly');
    expect(fs.maskedPaths).toEqual([]);
    expect(fs.readonlyPaths).toEqual([]);
    expect(fs.devices).toContainEqual(sda);
  });

  it('ignores host devices for an unprivileged container', () => {
    const sda: ShimDevice = { path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 };
    expect(dockerFilesystem({ hostDevices: [sda] }).devices.map((d) => d.path)).not.toContain('/dev/sda');
    expect(DOCKER_MASKED_PATHS.length).toBeGreaterThan(0);
  });

  it('mounts a read-only cgroup2 at /sys/fs/cgroup on a v2 host', () => {
    const [cgroup, ...rest] = mountAt(dockerFilesystem({ cgroup: { version: 2 } }), '/sys/fs/cgroup');
    expect(cgroup).toMatchObject({ type: 'cgroup2', flags: expect.arrayContaining(['rdonly']) });
    expect(rest).toEqual([]);
  });

  it('builds the v1 layout: a tmpfs, one read-only mount per hierarchy, links for co-mounted ones, then the tmpfs read-only', () => {
    const fs = dockerFilesystem({
      cgroup: {
        version: 1,
        hierarchies: [
          { name: 'cpu,cpuacct', options: 'cpu,cpuacct' },
          { name: 'memory', options: 'memory' },
          { name: 'systemd', options: 'name=systemd' },
        ],
      },
    });
    const cgroupMounts = fs.mounts.filter((m) => m.target.startsWith('/sys/fs/cgroup'));
    expect(cgroupMounts.map((m) => `${m.type} ${m.target} ${m.data ?? ''}`.trim())).toEqual([
      'tmpfs /sys/fs/cgroup mode=755',
      'cgroup /sys/fs/cgroup/cpu,cpuacct cpu,cpuacct',
      'cgroup /sys/fs/cgroup/memory memory',
      'cgroup /sys/fs/cgroup/systemd name=systemd',
      'remount /sys/fs/cgroup',
    ]);
    expect(cgroupMounts.at(-1)?.flags).toContain('rdonly');
    expect(fs.symlinks).toEqual(
      expect.arrayContaining([
        { path: '/sys/fs/cgroup/cpu', target: 'cpu,cpuacct' },
        { path: '/sys/fs/cgroup/cpuacct', target: 'cpu,cpuacct' },
      ]),
    );
    // /sys comes before the cgroup mounts that live inside it
    expect(fs.mounts.findIndex((m) => m.target === '/sys')).toBeLessThan(
      fs.mounts.findIndex((m) => m.target === '/sys/fs/cgroup'),
    );
  });
});
