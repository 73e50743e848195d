import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { EngineError } from '../engine-error.js';
import { nodeCgroupFs, type CgroupFs } from './cgroup-fs.js';
import { detectCgroupLayout, hierarchyDirs, parseCgroupMounts } from './cgroup-layout.js';
import { imitateCgroupV1, imitateCgroupV2, type ImitationCgroupTree } from './imitation-cgroup-tree.js';

/** This machine's /proc/self/mountinfo, cgroup lines and neighbours. */
const HYBRID_MOUNTINFO = `23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** A systemd host with co-mounted controllers, and a container's cgroup mount that must be ignored. */
const DEBIAN10_MOUNTINFO = `25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,net_cls,net_prio
32 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
33 25 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpuset,clone_children
90 88 0:29 /docker/abc /var/lib/skiff/c1/rootfs/sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
`;

describe(detectCgroupLayout.name, () => {
  let tree: ImitationCgroupTree | undefined;
  afterEach(async () => {
    await tree?.remove();
    tree = undefined;
  });

  it('reports a pure v2 host by the cgroup.controllers file at its top, with the controllers offered', async () => {
    tree = await imitateCgroupV2({ controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids'] });
    expect(await detectCgroupLayout(tree.root, { fs: tree.fs, mountinfo: '' })).toEqual({
      version: 2,
      root: tree.root,
      controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids'],
    });
  });

  it("reads this machine's hybrid layout from mountinfo: one hierarchy per controller, name=systemd and unified", async () => {
    const layout = await detectCgroupLayout('/sys/fs/cgroup', {
      fs: noCgroupFiles,
      mountinfo: HYBRID_MOUNTINFO,
    });
    expect(layout).toMatchObject({ version: 1, unified: '/sys/fs/cgroup/unified' });
    if (layout.version !== 1) throw new Error('expected v1');
    expect(layout.controllers).toEqual({
      cpu: '/sys/fs/cgroup/cpu',
      cpuacct: '/sys/fs/cgroup/cpuacct',
      cpuset: '/sys/fs/cgroup/cpuset',
      memory: '/sys/fs/cgroup/memory',
      devices: '/sys/fs/cgroup/devices',
      freezer: '/sys/fs/cgroup/freezer',
      blkio: '/sys/fs/cgroup/blkio',
      pids: '/sys/fs/cgroup/pids',
    });
    expect(layout.hierarchies.find((h) => h.name === 'systemd')).toEqual({
      dir: '/sys/fs/cgroup/systemd',
      controllers: [],
      name: 'systemd',
    });
    expect(hierarchyDirs(layout)).toHaveLength(10);
  });

  it('maps co-mounted controllers to one hierarchy and ignores cgroup mounts outside the given root', async () => {
    const layout = await detectCgroupLayout('/sys/fs/cgroup', {
      fs: noCgroupFiles,
      mountinfo: DEBIAN10_MOUNTINFO,
    });
    if (layout.version !== 1) throw new Error('expected v1');
    expect(layout.controllers.cpu).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(layout.controllers.cpuacct).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(layout.controllers.net_prio).toBe('/sys/fs/cgroup/net_cls,net_prio');
    expect(layout.hierarchies.map((h) => h.dir)).toEqual([
      '/sys/fs/cgroup/systemd',
      '/sys/fs/cgroup/cpu,cpuacct',
      '/sys/fs/cgroup/net_cls,net_prio',
      '/sys/fs/cgroup/memory',
      '/sys/fs/cgroup/cpuset',
    ]);
    expect(layout.hierarchies.find((h) => h.dir.endsWith('cpuset'))?.controllers).toEqual(['cpuset']);
  });

  it('finds the hierarchies of a folder that mountinfo does not list by their directories', async () => {
    tree = await imitateCgroupV1();
    const layout = await detectCgroupLayout(tree.root, { fs: tree.fs, mountinfo: HYBRID_MOUNTINFO });
    if (layout.version !== 1) throw new Error('expected v1');
    expect(layout.controllers.memory).toBe(join(tree.root, 'memory'));
    expect(layout.controllers.freezer).toBe(join(tree.root, 'freezer'));
    expect(layout.unified).toBe(join(tree.root, 'unified'));
    expect(layout.hierarchies.find((h) => h.name === 'systemd')?.dir).toBe(join(tree.root, 'systemd'));
    expect(Object.keys(layout.controllers).sort()).toEqual([
      'blkio',
      'cpu',
      'cpuacct',
      'cpuset',
      'devices',
      'freezer',
      'memory',
      'pids',
    ]);
  });

  it('fails as unavailable when no cgroup hierarchy is mounted', async () => {
    tree = await imitateCgroupV1();
    const empty = join(tree.root, 'pids', 'nothing-here');
    const error = await detectCgroupLayout(empty, { fs: tree.fs, mountinfo: '' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ kind: 'unavailable', message: `no cgroup hierarchy is mounted under ${empty}` });
  });
});

describe(parseCgroupMounts.name, () => {
  it('decodes octal escapes in mount points and keeps the super options', () => {
    const mounts = parseCgroupMounts(
      '50 31 0:40 / /srv/my\\040cgroups/memory rw,relatime shared:3 master:1 - cgroup cgroup rw,memory\n',
    );
    expect(mounts).toEqual([
      { mountPoint: '/srv/my cgroups/memory', fsType: 'cgroup', superOptions: ['rw', 'memory'] },
    ]);
  });

  it('skips every other file system', () => {
    expect(parseCgroupMounts('22 1 0:5 / /proc rw - proc proc rw\n')).toEqual([]);
  });
});

/** A host whose /sys/fs/cgroup is not v2, whatever the machine running the test has. */
const noCgroupFiles: CgroupFs = {
  ...nodeCgroupFs,
  readFile: (path) => Promise.reject(Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })),
};
