import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { EngineError } from '../engine-error.js';
import { applyCgroupPlan } from './cgroup-executor.js';
import type { CgroupV1Layout } from './cgroup-layout.js';
import type { BaseCgroupManager } from './cgroup-manager-base.js';
import {
  blkioWeightToIoWeight,
  cpuSharesToWeight,
  planCgroup,
  planParentCgroups,
  type CgroupPlan,
  type CgroupPlanInput,
  type CgroupSite,
} from './cgroup-plan.js';
import { containerDeviceAccess } from './device-rules.js';
import {
  imitateCgroupV1,
  imitateCgroupV2,
  type ImitationCgroupTree,
  type ImitationOptions,
} from './imitation-cgroup-tree.js';
import { openCgroupManager } from './open-cgroup-manager.js';

const MiB = 1024 * 1024;
const ID = 'c0ffee';
const SDA = new Map([['/dev/sda', { major: 8, minor: 0 }]]);

let tree: ImitationCgroupTree | undefined;
afterEach(async () => {
  await tree?.remove();
  tree = undefined;
});

/** A temporary /sys/fs/cgroup with the parent `skiff` made, and what the planner is told about it. */
async function site(version: 1 | 2, options: ImitationOptions = {}): Promise<CgroupSite> {
  tree = version === 1 ? await imitateCgroupV1(options) : await imitateCgroupV2(options);
  const manager = (await openCgroupManager({
    sysFsCgroup: tree.root,
    fs: tree.fs,
    mountinfo: '',
    cpuCount: 2,
    kill: tree.kill,
  })) as BaseCgroupManager;
  return { layout: manager.layout, parent: 'skiff', facts: await manager.hostFacts() };
}

function plan(s: CgroupSite, input: Partial<CgroupPlanInput>): CgroupPlan {
  return planCgroup(s, { containerId: ID, resources: {}, mode: 'create', blockDevices: SDA, ...input });
}

/** The writes of the directory under the hierarchy named `hierarchy`, as `file=value`. */
function writesOf(p: CgroupPlan, hierarchy: string): string[] {
  const dir = p.dirs.find((d) => d.hierarchy === hierarchy);
  if (!dir) throw new Error(`no ${hierarchy} directory in the plan`);
  return dir.writes.map((w) => `${w.file}=${w.value}`);
}

function refusal(run: () => unknown): EngineError {
  try {
    run();
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error('the plan was made');
}

async function fileIn(s: CgroupSite, hierarchy: string, file: string): Promise<string> {
  const root = s.layout.version === 1 ? join(tree?.root ?? '', hierarchy) : s.layout.root;
  return (await readFile(join(root, 'skiff', ID, file), 'utf8')).trim();
}

describe(`${planCgroup.name} on cgroup v1`, () => {
  it('makes skiff/<id> in every hierarchy, name=systemd and the hybrid unified mount included', async () => {
    const s = await site(1);
    const p = plan(s, {});
    expect(p.dirs.map((d) => [d.hierarchy, d.dir.slice((tree?.root.length ?? 0) + 1), d.mkdir])).toEqual([
      ['blkio', `blkio/skiff/${ID}`, 'new'],
      ['cpu', `cpu/skiff/${ID}`, 'new'],
      ['cpuacct', `cpuacct/skiff/${ID}`, 'new'],
      ['cpuset', `cpuset/skiff/${ID}`, 'new'],
      ['devices', `devices/skiff/${ID}`, 'new'],
      ['freezer', `freezer/skiff/${ID}`, 'new'],
      ['memory', `memory/skiff/${ID}`, 'new'],
      ['pids', `pids/skiff/${ID}`, 'new'],
      ['name=systemd', `systemd/skiff/${ID}`, 'new'],
      ['unified', `unified/skiff/${ID}`, 'new'],
    ]);
    expect(p.warnings).toEqual([]);
  });

  it("copies the parent's cpuset into a container without one, or the cgroup could not take tasks", async () => {
    const s = await site(1, { cpus: '0-3', mems: '0' });
    expect(writesOf(plan(s, {}), 'cpuset')).toEqual(['cpuset.cpus=0-3', 'cpuset.mems=0']);
    expect(writesOf(plan(s, { resources: { CpusetCpus: '1,3', CpusetMems: '0' } }), 'cpuset')).toEqual([
      'cpuset.cpus=1,3',
      'cpuset.mems=0',
    ]);
  });

  it('refuses CPUs the host does not have', async () => {
    const s = await site(1, { cpus: '0-1' });
    expect(refusal(() => plan(s, { resources: { CpusetCpus: '0-3' } }))).toMatchObject({
      kind: 'invalid-argument',
      message: 'CPUs 2,3 requested in CpusetCpus "0-3" are not available: this host offers 0-1',
    });
  });

  it('limits memory and gives the default swap (twice the memory, in memsw), limit first', async () => {
    const s = await site(1);
    expect(writesOf(plan(s, { resources: { Memory: 32 * MiB } }), 'memory')).toEqual([
      `memory.limit_in_bytes=${32 * MiB}`,
      `memory.memsw.limit_in_bytes=${64 * MiB}`,
    ]);
  });

  it('gives no swap when MemorySwap equals Memory, and leaves swap unlimited with -1', async () => {
    const s = await site(1);
    expect(writesOf(plan(s, { resources: { Memory: 32 * MiB, MemorySwap: 32 * MiB } }), 'memory')).toEqual([
      `memory.limit_in_bytes=${32 * MiB}`,
      `memory.memsw.limit_in_bytes=${32 * MiB}`,
    ]);
    expect(writesOf(plan(s, { resources: { Memory: 32 * MiB, MemorySwap: -1 } }), 'memory')).toEqual([
      `memory.limit_in_bytes=${32 * MiB}`,
    ]);
  });

  it('on update, opens the swap limit before changing the memory limit, so raising and lowering both work', async () => {
    const s = await site(1);
    const p = plan(s, { mode: 'update', resources: { Memory: 128 * MiB, MemorySwap: 256 * MiB } });
    expect(writesOf(p, 'memory')).toEqual([
      'memory.memsw.limit_in_bytes=-1',
      `memory.limit_in_bytes=${128 * MiB}`,
      `memory.memsw.limit_in_bytes=${256 * MiB}`,
    ]);
    expect(p.dirs.every((d) => d.mkdir === 'none')).toBe(true);
    expect(p.dirs.map((d) => d.hierarchy)).toEqual(['memory']);
  });

  it('limits memory without swap, with a warning, where the kernel does not account swap', async () => {
    const s = await site(1, { omitFiles: ['memory.memsw.limit_in_bytes'] });
    const p = plan(s, { resources: { Memory: 32 * MiB, MemorySwap: 64 * MiB } });
    expect(writesOf(p, 'memory')).toEqual([`memory.limit_in_bytes=${32 * MiB}`]);
    expect(p.warnings).toEqual([expect.stringContaining('does not limit swap')]);
    expect(plan(s, { resources: { Memory: 32 * MiB } }).warnings).toEqual([]);
  });

  it('writes the reservation, swappiness and a disabled OOM killer', async () => {
    const s = await site(1);
    const p = plan(s, {
      resources: { Memory: 64 * MiB, MemoryReservation: 32 * MiB, MemorySwappiness: 0, OomKillDisable: true },
    });
    expect(writesOf(p, 'memory')).toEqual([
      `memory.limit_in_bytes=${64 * MiB}`,
      `memory.memsw.limit_in_bytes=${128 * MiB}`,
      `memory.soft_limit_in_bytes=${32 * MiB}`,
      'memory.swappiness=0',
      'memory.oom_control=1',
    ]);
    expect(plan(s, { resources: { OomKillDisable: true } }).warnings).toEqual([
      expect.stringContaining('without a memory limit'),
    ]);
  });

  it('turns --cpus into a quota over the default 100 ms period, period first', async () => {
    const s = await site(1);
    expect(writesOf(plan(s, { resources: { NanoCpus: 1_500_000_000, CpuShares: 512 } }), 'cpu')).toEqual([
      'cpu.shares=512',
      'cpu.cfs_period_us=100000',
      'cpu.cfs_quota_us=150000',
    ]);
    expect(writesOf(plan(s, { resources: { CpuQuota: 20_000, CpuPeriod: 50_000 } }), 'cpu')).toEqual([
      'cpu.cfs_period_us=50000',
      'cpu.cfs_quota_us=20000',
    ]);
  });

  it('refuses more --cpus than the host has', async () => {
    const s = await site(1);
    expect(refusal(() => plan(s, { resources: { NanoCpus: 3e9 } })).message).toBe(
      'number of CPUs (NanoCpus) 3 is more than this host has: 2 CPUs are available',
    );
  });

  it('clamps CPU shares to the range the kernel keeps', async () => {
    const s = await site(1);
    expect(writesOf(plan(s, { resources: { CpuShares: 1 } }), 'cpu')).toEqual(['cpu.shares=2']);
    expect(writesOf(plan(s, { resources: { CpuShares: 1_000_000 } }), 'cpu')).toEqual(['cpu.shares=262144']);
  });

  it('limits pids, and writes "max" for 0 or -1 only on update (a new cgroup has no limit)', async () => {
    const s = await site(1);
    expect(writesOf(plan(s, { resources: { PidsLimit: 20 } }), 'pids')).toEqual(['pids.max=20']);
    expect(writesOf(plan(s, { resources: { PidsLimit: 0 } }), 'pids')).toEqual([]);
    expect(writesOf(plan(s, { mode: 'update', resources: { PidsLimit: -1 } }), 'pids')).toEqual(['pids.max=max']);
  });

  it('writes the block I/O weight to blkio.bfq.weight where CFQ (blkio.weight) is gone', async () => {
    const s = await site(1);
    expect(writesOf(plan(s, { resources: { BlkioWeight: 300 } }), 'blkio')).toEqual(['blkio.bfq.weight=300']);
  });

  it('prefers blkio.weight on a kernel with CFQ', async () => {
    const s = await site(1, { extraFiles: { 'blkio.weight': '500' } });
    expect(writesOf(plan(s, { resources: { BlkioWeight: 300 } }), 'blkio')).toEqual(['blkio.weight=300']);
  });

  it('refuses a block I/O weight where neither scheduler offers one', async () => {
    const s = await site(1, { omitFiles: ['blkio.bfq.weight'] });
    expect(refusal(() => plan(s, { resources: { BlkioWeight: 300 } }))).toMatchObject({
      kind: 'invalid-argument',
      message: `block I/O weight (BlkioWeight) is not supported on this host: ${join(tree?.root ?? '', 'blkio', 'skiff')} has none of blkio.weight, blkio.bfq.weight`,
    });
  });

  it('throttles devices by major:minor, one write per device', async () => {
    const s = await site(1);
    const devices = new Map([
      ['/dev/sda', { major: 8, minor: 0 }],
      ['/dev/vdb', { major: 254, minor: 16 }],
    ]);
    const p = plan(s, {
      blockDevices: devices,
      resources: {
        BlkioDeviceReadBps: [
          { Path: '/dev/sda', Rate: MiB },
          { Path: '/dev/vdb', Rate: 2 * MiB },
        ],
        BlkioDeviceWriteIOps: [{ Path: '/dev/sda', Rate: 100 }],
        BlkioWeightDevice: [{ Path: '/dev/vdb', Weight: 200 }],
      },
    });
    expect(writesOf(p, 'blkio')).toEqual([
      'blkio.bfq.weight_device=254:16 200',
      `blkio.throttle.read_bps_device=8:0 ${MiB}`,
      `blkio.throttle.read_bps_device=254:16 ${2 * MiB}`,
      'blkio.throttle.write_iops_device=8:0 100',
    ]);
  });

  it('denies every device, then allows the standard ones, for an unprivileged container', async () => {
    const s = await site(1);
    const writes = writesOf(plan(s, { deviceAccess: containerDeviceAccess() }), 'devices');
    expect(writes[0]).toBe('devices.deny=a');
    expect(writes).toContain('devices.allow=c 1:3 rwm');
    expect(writes).toContain('devices.allow=c 136:* rwm');
    expect(writes).not.toContain('devices.allow=a');
  });

  it('allows every device for a privileged container, and added devices and rules otherwise', async () => {
    const s = await site(1);
    expect(writesOf(plan(s, { deviceAccess: containerDeviceAccess({ privileged: true }) }), 'devices')).toEqual([
      'devices.allow=a',
    ]);
    const access = containerDeviceAccess({
      devices: [{ type: 'c', major: 10, minor: 229, permissions: 'rw' }],
      deviceCgroupRules: ['b 8:* r'],
    });
    expect(writesOf(plan(s, { deviceAccess: access }), 'devices').slice(-2)).toEqual([
      'devices.allow=c 10:229 rw',
      'devices.allow=b 8:* r',
    ]);
  });

  it('refuses a limit whose controller is not mounted', async () => {
    const s = await site(1);
    const layout = s.layout as CgroupV1Layout;
    const withoutPids: CgroupSite = {
      ...s,
      layout: {
        ...layout,
        hierarchies: layout.hierarchies.filter((h) => !h.controllers.includes('pids')),
        controllers: { ...layout.controllers, pids: undefined },
      },
    };
    expect(refusal(() => plan(withoutPids, { resources: { PidsLimit: 20 } })).message).toBe(
      'a pids limit needs the pids cgroup controller, which this host has not mounted',
    );
    expect(() => plan(withoutPids, { resources: { PidsLimit: 0 } })).not.toThrow();
  });

  it('refuses a container id that is not a plain name', async () => {
    const s = await site(1);
    expect(refusal(() => plan(s, { containerId: '../escape' })).message).toContain('invalid container id');
  });

  it('applies into the cgroup tree: the control files hold the values', async () => {
    const s = await site(1);
    const p = plan(s, {
      resources: {
        Memory: 32 * MiB,
        PidsLimit: 20,
        NanoCpus: 500_000_000,
        BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: MiB }],
      },
      deviceAccess: containerDeviceAccess(),
    });
    await applyCgroupPlan(tree!.fs, p, `container ${ID}`);
    expect(await fileIn(s, 'memory', 'memory.limit_in_bytes')).toBe(String(32 * MiB));
    expect(await fileIn(s, 'memory', 'memory.memsw.limit_in_bytes')).toBe(String(64 * MiB));
    expect(await fileIn(s, 'pids', 'pids.max')).toBe('20');
    expect(await fileIn(s, 'cpu', 'cpu.cfs_quota_us')).toBe('50000');
    expect(await fileIn(s, 'cpuset', 'cpuset.cpus')).toBe('0-1');
    expect(await fileIn(s, 'blkio', 'blkio.throttle.read_bps_device')).toBe(`8:0 ${MiB}`);
    expect(await fileIn(s, 'devices', 'devices.list')).toContain('c 1:3 rwm');
    expect(await fileIn(s, 'devices', 'devices.list')).not.toContain('a *:* rwm');
  });

  it('raises memory above the old memory+swap limit on update (a plain write would be refused with EINVAL)', async () => {
    const s = await site(1);
    await applyCgroupPlan(tree!.fs, plan(s, { resources: { Memory: 32 * MiB } }), `container ${ID}`);
    const update = plan(s, { mode: 'update', resources: { Memory: 128 * MiB, MemorySwap: 256 * MiB } });
    await applyCgroupPlan(tree!.fs, update, `container ${ID}`);
    expect(await fileIn(s, 'memory', 'memory.limit_in_bytes')).toBe(String(128 * MiB));
    expect(await fileIn(s, 'memory', 'memory.memsw.limit_in_bytes')).toBe(String(256 * MiB));
    const lower = plan(s, { mode: 'update', resources: { Memory: 16 * MiB, MemorySwap: 16 * MiB } });
    await applyCgroupPlan(tree!.fs, lower, `container ${ID}`);
    expect(await fileIn(s, 'memory', 'memory.memsw.limit_in_bytes')).toBe(String(16 * MiB));
  });
});

describe(`${planCgroup.name} on cgroup v2`, () => {
  it('makes one directory, skiff/<id>, in the unified hierarchy', async () => {
    const s = await site(2);
    const p = plan(s, {});
    expect(p.dirs).toEqual([
      { hierarchy: 'cgroup2', dir: join(tree?.root ?? '', 'skiff', ID), mkdir: 'new', writes: [] },
    ]);
  });

  it('limits memory in memory.max and swap alone in memory.swap.max (MemorySwap minus Memory)', async () => {
    const s = await site(2);
    expect(writesOf(plan(s, { resources: { Memory: 32 * MiB } }), 'cgroup2')).toEqual([
      `memory.max=${32 * MiB}`,
      `memory.swap.max=${32 * MiB}`,
    ]);
    expect(writesOf(plan(s, { resources: { Memory: 32 * MiB, MemorySwap: 32 * MiB } }), 'cgroup2')).toEqual([
      `memory.max=${32 * MiB}`,
      'memory.swap.max=0',
    ]);
    expect(writesOf(plan(s, { resources: { Memory: 32 * MiB, MemorySwap: -1 } }), 'cgroup2')).toEqual([
      `memory.max=${32 * MiB}`,
    ]);
    expect(writesOf(plan(s, { mode: 'update', resources: { Memory: 32 * MiB, MemorySwap: -1 } }), 'cgroup2')).toEqual([
      `memory.max=${32 * MiB}`,
      'memory.swap.max=max',
    ]);
  });

  it('writes the reservation as memory.low and warns about what v2 cannot do for one container', async () => {
    const s = await site(2);
    const p = plan(s, {
      resources: {
        Memory: 64 * MiB,
        MemorySwap: 64 * MiB,
        MemoryReservation: 32 * MiB,
        MemorySwappiness: 10,
        OomKillDisable: true,
      },
      deviceAccess: containerDeviceAccess(),
    });
    expect(writesOf(p, 'cgroup2')).toContain(`memory.low=${32 * MiB}`);
    expect(p.warnings).toEqual([
      'cgroup v2 has no per-cgroup swappiness: MemorySwappiness was discarded',
      'cgroup v2 cannot disable the OOM killer: OomKillDisable was discarded',
    ]);
  });

  it('converts CPU shares to cpu.weight and --cpus or quota/period to cpu.max', async () => {
    const s = await site(2);
    expect(writesOf(plan(s, { resources: { CpuShares: 1024, NanoCpus: 500_000_000 } }), 'cgroup2')).toEqual([
      'cpu.weight=39',
      'cpu.max=50000 100000',
    ]);
    expect(writesOf(plan(s, { resources: { CpuQuota: 20_000, CpuPeriod: 50_000 } }), 'cgroup2')).toEqual([
      'cpu.max=20000 50000',
    ]);
    expect(writesOf(plan(s, { resources: { CpuPeriod: 50_000 } }), 'cgroup2')).toEqual(['cpu.max=max 50000']);
  });

  it('writes a cpuset only when one is asked for (an empty v2 cpuset inherits)', async () => {
    const s = await site(2);
    expect(writesOf(plan(s, {}), 'cgroup2')).toEqual([]);
    expect(writesOf(plan(s, { resources: { CpusetCpus: '1' } }), 'cgroup2')).toEqual(['cpuset.cpus=1']);
  });

  it('limits pids', async () => {
    const s = await site(2);
    expect(writesOf(plan(s, { resources: { PidsLimit: 20 } }), 'cgroup2')).toEqual(['pids.max=20']);
    expect(writesOf(plan(s, { mode: 'update', resources: { PidsLimit: 0 } }), 'cgroup2')).toEqual(['pids.max=max']);
  });

  it("writes Docker's weight to io.bfq.weight as is, or scaled to io.weight without BFQ", async () => {
    const withBfq = await site(2);
    expect(writesOf(plan(withBfq, { resources: { BlkioWeight: 500 } }), 'cgroup2')).toEqual(['io.bfq.weight=500']);
    await tree?.remove();
    const withoutBfq = await site(2, { omitFiles: ['io.bfq.weight'] });
    expect(writesOf(plan(withoutBfq, { resources: { BlkioWeight: 500 } }), 'cgroup2')).toEqual(['io.weight=4950']);
  });

  it('puts all limits of a device on one io.max line; a rate of 0 lifts one', async () => {
    const s = await site(2);
    const p = plan(s, {
      resources: {
        BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: MiB }],
        BlkioDeviceWriteIOps: [{ Path: '/dev/sda', Rate: 100 }],
        BlkioDeviceWriteBps: [{ Path: '/dev/sda', Rate: 0 }],
      },
    });
    expect(writesOf(p, 'cgroup2')).toEqual([`io.max=8:0 rbps=${MiB} wbps=max wiops=100`]);
  });

  it('refuses a limit whose controller is not enabled for the parent', async () => {
    const s = await site(2, { controllers: ['cpuset', 'cpu', 'io', 'memory'] });
    expect(refusal(() => plan(s, { resources: { PidsLimit: 20 } })).message).toBe(
      `a pids limit is not supported on this host: the pids controller is not enabled for ${join(tree?.root ?? '', 'skiff')} (no pids.max)`,
    );
  });

  it('applies into the cgroup tree: the control files hold the values', async () => {
    const s = await site(2);
    const p = plan(s, { resources: { Memory: 32 * MiB, PidsLimit: 20, CpuShares: 512, NanoCpus: 1e9 } });
    await applyCgroupPlan(tree!.fs, p, `container ${ID}`);
    expect(await fileIn(s, '', 'memory.max')).toBe(String(32 * MiB));
    expect(await fileIn(s, '', 'pids.max')).toBe('20');
    expect(await fileIn(s, '', 'cpu.weight')).toBe(String(cpuSharesToWeight(512)));
    expect(await fileIn(s, '', 'cpu.max')).toBe('100000 100000');
  });
});

describe(cpuSharesToWeight.name, () => {
  it('maps the ends and the default of the shares range', () => {
    expect(cpuSharesToWeight(2)).toBe(1);
    expect(cpuSharesToWeight(1024)).toBe(39);
    expect(cpuSharesToWeight(262_144)).toBe(10_000);
  });
});

describe(blkioWeightToIoWeight.name, () => {
  it('maps 10–1000 onto 1–10000', () => {
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(1000)).toBe(10_000);
  });
});

describe(planParentCgroups.name, () => {
  it('v1: makes skiff in every hierarchy and copies the root cpuset into an empty one', () => {
    const layout: CgroupV1Layout = {
      version: 1,
      hierarchies: [
        { dir: '/cg/cpuset', controllers: ['cpuset'] },
        { dir: '/cg/memory', controllers: ['memory'] },
      ],
      controllers: { cpuset: '/cg/cpuset', memory: '/cg/memory' },
      unified: '/cg/unified',
    };
    const p = planParentCgroups(layout, 'skiff', {
      rootCpus: '0-7\n',
      rootMems: '0-1\n',
      parentCpus: '',
      parentMems: '',
    });
    expect(p.dirs).toEqual([
      {
        hierarchy: 'cpuset',
        dir: '/cg/cpuset/skiff',
        mkdir: 'ensure',
        writes: [
          { file: 'cpuset.cpus', value: '0-7' },
          { file: 'cpuset.mems', value: '0-1' },
        ],
      },
      { hierarchy: 'memory', dir: '/cg/memory/skiff', mkdir: 'ensure', writes: [] },
      { hierarchy: 'unified', dir: '/cg/unified/skiff', mkdir: 'ensure', writes: [] },
    ]);
  });

  it("v1: leaves a parent's cpuset that is already set alone", () => {
    const layout: CgroupV1Layout = {
      version: 1,
      hierarchies: [{ dir: '/cg/cpuset', controllers: ['cpuset'] }],
      controllers: { cpuset: '/cg/cpuset' },
    };
    const p = planParentCgroups(layout, 'skiff', {
      rootCpus: '0-7',
      rootMems: '0',
      parentCpus: '2-3\n',
      parentMems: '0\n',
    });
    expect(p.dirs[0]?.writes).toEqual([]);
  });

  it('v2: enables the controllers containers use in the root and the parent, one write each, skipping enabled ones', () => {
    const p = planParentCgroups(
      { version: 2, root: '/cg', controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids'] },
      'skiff',
      {
        rootSubtree: ['cpu', 'memory'],
      },
    );
    expect(p.dirs.map((d) => [d.dir, d.mkdir, d.writes.map((w) => w.value).join(' ')])).toEqual([
      ['/cg', 'none', '+cpuset +io +pids'],
      ['/cg/skiff', 'ensure', '+cpuset +cpu +io +memory +pids'],
    ]);
  });
});
