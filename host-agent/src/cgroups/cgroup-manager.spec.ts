/**
 * One conformance suite for both CgroupManager implementations, run against temporary folders
 * that behave like a v1 and a v2 /sys/fs/cgroup. The real v1 hierarchies are exercised by
 * cgroups.int.spec.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { EngineError } from '../engine-error.js';
import { WriteEachError, type CgroupFs } from './cgroup-fs.js';
import type { CgroupManager, CgroupManagerOptions, ContainerCgroup } from './cgroup-manager.js';
import { imitateCgroupV1, imitateCgroupV2, type ImitationCgroupTree } from './imitation-cgroup-tree.js';
import { openCgroupManager } from './open-cgroup-manager.js';

const MiB = 1024 * 1024;
const ID = 'f00dcafe';

interface Flavour {
  version: 1 | 2;
  imitate: () => Promise<ImitationCgroupTree>;
  /** Where the file that answers `file` of the container lives. */
  fileOf: (tree: ImitationCgroupTree, controller: string, file: string) => string;
  /** The file that says whether an OOM kill happened, and its content after one. */
  oomFile: (tree: ImitationCgroupTree) => [string, string];
}

const FLAVOURS: Flavour[] = [
  {
    version: 1,
    imitate: () => imitateCgroupV1(),
    fileOf: (tree, controller, file) => join(tree.root, controller, 'skiff', ID, file),
    oomFile: (tree) => [
      join(tree.root, 'memory', 'skiff', ID, 'memory.oom_control'),
      'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
    ],
  },
  {
    version: 2,
    imitate: () => imitateCgroupV2(),
    fileOf: (tree, _controller, file) => join(tree.root, 'skiff', ID, file),
    oomFile: (tree) => [join(tree.root, 'skiff', ID, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n'],
  },
];

for (const flavour of FLAVOURS) {
  describe(`CgroupManager on cgroup v${flavour.version}`, () => {
    let tree: ImitationCgroupTree | undefined;

    afterEach(async () => {
      await tree?.remove();
      tree = undefined;
    });

    async function open(
      options: Partial<CgroupManagerOptions> = {},
    ): Promise<{ t: ImitationCgroupTree; manager: CgroupManager }> {
      const t = tree ?? (tree = await flavour.imitate());
      const manager = await openCgroupManager({
        sysFsCgroup: t.root,
        fs: t.fs,
        mountinfo: '',
        kill: t.kill,
        cpuCount: 2,
        machineMemory: 4096 * MiB,
        procStat: () =>
          Promise.resolve(
            'cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\n',
          ),
        statDevice: () => Promise.resolve({ rdev: 0x800n, isBlockDevice: () => true }),
        ...options,
      });
      return { t, manager };
    }

    async function created(
      resources = {},
    ): Promise<{ t: ImitationCgroupTree; manager: CgroupManager; cgroup: ContainerCgroup }> {
      const { t, manager } = await open();
      const { cgroup } = await manager.create(ID, resources);
      return { t, manager, cgroup };
    }

    async function exists(fs: CgroupFs, paths: string[]): Promise<boolean[]> {
      return Promise.all(paths.map((p) => fs.exists(p)));
    }

    it('creates the cgroup with its limits, and hands the shim its directories', async () => {
      const { t, cgroup } = await created({ Memory: 32 * MiB, PidsLimit: 20 });
      const paths = cgroup.paths();
      expect(paths.length).toBe(flavour.version === 1 ? 10 : 1);
      expect(await exists(t.fs, paths)).toEqual(paths.map(() => true));
      expect(paths.every((p) => p.endsWith(join('skiff', ID)))).toBe(true);
      expect(await readFile(flavour.fileOf(t, 'pids', 'pids.max'), 'utf8')).toBe('20');
      const shim = cgroup.shimCgroup();
      expect(shim.paths).toEqual(paths);
      expect(shim.oomEventsFile).toBe(flavour.oomFile(t)[0]);
    });

    it('refuses a second cgroup for the same container as a conflict and keeps the first', async () => {
      const { manager, cgroup, t } = await created({ PidsLimit: 20 });
      const error = await manager.create(ID, { PidsLimit: 5 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: 'conflict' });
      expect(await exists(t.fs, cgroup.paths())).toEqual(cgroup.paths().map(() => true));
      expect(await readFile(flavour.fileOf(t, 'pids', 'pids.max'), 'utf8')).toBe('20');
    });

    it('makes nothing when a limit is refused', async () => {
      const { manager, t } = await open();
      const error = await manager.create(ID, { Memory: MiB }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect(error).toMatchObject({ kind: 'invalid-argument' });
      expect(await exists(t.fs, manager.open(ID).paths())).toEqual(
        manager
          .open(ID)
          .paths()
          .map(() => false),
      );
    });

    it('takes away what it made when the kernel refuses a write', async () => {
      const { t } = await open();
      const failing: CgroupFs = {
        ...t.fs,
        writeFile: (path, value) =>
          path.endsWith('pids.max')
            ? Promise.reject(Object.assign(new Error('EINVAL'), { code: 'EINVAL' }))
            : t.fs.writeFile(path, value),
      };
      const { manager } = await open({ fs: failing });
      const error = await manager.create(ID, { PidsLimit: 20 }).catch((e: unknown) => e);
      expect(error).toMatchObject({
        kind: 'invalid-argument',
        message: expect.stringContaining(`cannot set pids.max of container ${ID} to "20"`),
      });
      expect(await manager.list()).toEqual([]);
    });

    it.runIf(flavour.version === 1)('names the one device rule of many the kernel refuses', async () => {
      const { t } = await open();
      const written: string[] = [];
      const failing: CgroupFs = {
        ...t.fs,
        writeEach: async (path, values) => {
          if (!path.endsWith('devices.allow')) return t.fs.writeEach?.(path, values);
          written.push(...values.slice(0, 2));
          throw new WriteEachError(2, Object.assign(new Error('EINVAL'), { code: 'EINVAL' }));
        },
      };
      const { manager } = await open({ fs: failing });
      const error = await manager.create(ID, {}).catch((e: unknown) => e);
      expect(written).toHaveLength(2);
      expect((error as Error).message).toMatch(new RegExp(`cannot set devices.allow of container ${ID} to "[^"]+"`));
      expect((error as Error).message).not.toContain(JSON.stringify(written[0]));
      expect(await manager.list()).toEqual([]);
    });

    it('checks resources without making anything, returning the warnings', async () => {
      const { manager, t } = await open();
      const warnings = await manager.check({ Memory: 32 * MiB, MemorySwappiness: 10 });
      expect(warnings).toEqual(
        flavour.version === 1 ? [] : [expect.stringContaining('MemorySwappiness was discarded')],
      );
      expect(await manager.list()).toEqual([]);
      expect(await t.fs.exists(manager.open(ID).paths()[0] ?? '')).toBe(false);
    });

    it("lists the parent's control files once, not on every check and create", async () => {
      const t = tree ?? (tree = await flavour.imitate());
      const listed: string[] = [];
      const fs: CgroupFs = {
        ...t.fs,
        entries: (path) => {
          listed.push(path);
          return t.fs.entries(path);
        },
      };
      const { manager } = await open({ fs });
      await manager.check({ Memory: 32 * MiB });
      const once = listed.length;
      expect(once).toBeGreaterThan(0);
      await manager.create(ID, { Memory: 32 * MiB, PidsLimit: 10 });
      await manager.create('beefcafe', {});
      expect(listed).toHaveLength(once);
      // The files it listed still decide what is written: the pids limit landed.
      expect((await readFile(flavour.fileOf(t, 'pids', 'pids.max'), 'utf8')).trim()).toBe('10');
    });

    it('refuses a block device path that does not exist, before making anything', async () => {
      const { manager } = await open({
        statDevice: () => Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })),
      });
      const error = await manager
        .create(ID, { BlkioDeviceReadBps: [{ Path: '/dev/nope', Rate: 1 }] })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        kind: 'invalid-argument',
        message: 'no such block device (BlkioDeviceReadBps): /dev/nope',
      });
      expect(await manager.list()).toEqual([]);
    });

    it('updates the limits of a running container', async () => {
      const { t, cgroup } = await created({ Memory: 32 * MiB, PidsLimit: 20 });
      await cgroup.update({ Memory: 64 * MiB, MemorySwap: 64 * MiB, PidsLimit: -1 });
      expect(await readFile(flavour.fileOf(t, 'pids', 'pids.max'), 'utf8')).toBe('max');
      const memoryFile = flavour.version === 1 ? 'memory.limit_in_bytes' : 'memory.max';
      expect(await readFile(flavour.fileOf(t, 'memory', memoryFile), 'utf8')).toBe(String(64 * MiB));
    });

    it('answers not-found when updating a container that has no cgroup', async () => {
      const { manager } = await open();
      await expect(manager.open(ID).update({ PidsLimit: 5 })).rejects.toMatchObject({ kind: 'not-found' });
    });

    it('freezes and thaws', async () => {
      const { cgroup, t } = await created();
      await cgroup.freeze();
      expect(await cgroup.isFrozen()).toBe(true);
      if (flavour.version === 1)
        expect(await readFile(flavour.fileOf(t, 'freezer', 'freezer.state'), 'utf8')).toBe('FROZEN');
      await cgroup.thaw();
      expect(await cgroup.isFrozen()).toBe(false);
    });

    it('gives up freezing after the timeout, thaws again and says so', async () => {
      const { t } = await open();
      const stuck: CgroupFs = {
        ...t.fs,
        // The kernel accepts the request but never reports the cgroup frozen.
        writeFile: (path, value) =>
          path.endsWith('freezer.state') || path.endsWith('cgroup.freeze')
            ? t.fs.writeFile(path, value === 'FROZEN' ? 'FREEZING' : value === '1' ? '1' : value).then(async () => {
                if (path.endsWith('cgroup.freeze')) {
                  await t.setFile(join(path, '..', 'cgroup.events'), 'populated 1\nfrozen 0\n');
                }
              })
            : t.fs.writeFile(path, value),
      };
      const { manager } = await open({ fs: stuck, timeoutMs: 150 });
      const { cgroup } = await manager.create(ID, {});
      await expect(cgroup.freeze()).rejects.toMatchObject({
        kind: 'unavailable',
        message: `cannot pause container ${ID}: its processes did not freeze within 150 ms`,
      });
      expect(await cgroup.isFrozen()).toBe(false);
    });

    it('lists the processes of the cgroup and of its children', async () => {
      const { cgroup, t } = await created();
      const dir = flavour.version === 1 ? flavour.fileOf(t, 'pids', '') : flavour.fileOf(t, '', '');
      await t.addProcess(dir, 42);
      await t.addProcess(dir, 7);
      await t.fs.mkdir(join(dir, 'inner'));
      await t.addProcess(join(dir, 'inner'), 99);
      expect(await cgroup.pids()).toEqual([7, 42, 99]);
    });

    it('signals every process, frozen meanwhile so that none escapes by forking', async () => {
      const { cgroup, t } = await created();
      for (const dir of cgroup.paths()) await t.addProcess(dir, 42);
      await cgroup.killAll('SIGTERM');
      expect(t.signals).toEqual([{ pid: 42, signal: 'SIGTERM' }]);
      expect(await cgroup.isFrozen()).toBe(false);
    });

    it('reports an OOM kill from the kernel counter', async () => {
      const { cgroup, t } = await created({ Memory: 32 * MiB });
      expect(await cgroup.oomKilled()).toBe(false);
      const [file, content] = flavour.oomFile(t);
      await t.setFile(file, content);
      expect(await cgroup.oomKilled()).toBe(true);
      expect(await cgroup.oomKillCount()).toBe(1);
    });

    it('reads stats with the memory limit and the pids limit', async () => {
      const { cgroup } = await created({ Memory: 32 * MiB, PidsLimit: 20 });
      const stats = await cgroup.stats();
      expect(stats.memory_stats.limit).toBe(32 * MiB);
      expect(stats.pids_stats).toEqual({ current: 0, limit: 20 });
      expect(stats.cpu_stats.online_cpus).toBe(2);
      expect(stats.cpu_stats.system_cpu_usage).toBe(1000 * 10_000_000);
    });

    it('destroys: kills what is left, removes every directory and child cgroup, and can be repeated', async () => {
      const { cgroup, t, manager } = await created({ Memory: 32 * MiB });
      for (const dir of cgroup.paths()) await t.addProcess(dir, 42);
      await t.fs.mkdir(join(cgroup.paths()[0] ?? '', 'nested'));
      await cgroup.destroy();
      expect(t.signals.filter((s) => s.pid === 42).map((s) => s.signal)).toContain('SIGKILL');
      expect(await exists(t.fs, cgroup.paths())).toEqual(cgroup.paths().map(() => false));
      expect(await manager.list()).toEqual([]);
      await cgroup.destroy();
      await manager.open('never-made').destroy();
    });

    it('destroys a paused container', async () => {
      const { cgroup, t } = await created();
      for (const dir of cgroup.paths()) await t.addProcess(dir, 42);
      await cgroup.freeze();
      await cgroup.destroy();
      expect(await cgroup.exists()).toBe(false);
    });

    it('fails as unavailable, naming the processes, when they will not die', async () => {
      const { t } = await open();
      // Processes in uninterruptible sleep: neither kill(2) nor cgroup.kill ends them.
      const deaf: CgroupFs = {
        ...t.fs,
        writeFile: (path, value) => (path.endsWith('cgroup.kill') ? Promise.resolve() : t.fs.writeFile(path, value)),
      };
      const { manager } = await open({ fs: deaf, kill: () => undefined, timeoutMs: 200 });
      const { cgroup } = await manager.create(ID, {});
      for (const dir of cgroup.paths()) await t.addProcess(dir, 42);
      await expect(cgroup.destroy()).rejects.toMatchObject({
        kind: 'unavailable',
        message: `cannot remove the cgroup of container ${ID}: processes 42 still run after 200 ms`,
      });
      t.kill(42, 'SIGKILL');
      await cgroup.destroy();
    });

    it('finds the cgroups a previous run left, and removes them through open', async () => {
      await created();
      const { manager } = await open();
      expect(await manager.list()).toEqual([ID]);
      await manager.open(ID).destroy();
      expect(await manager.list()).toEqual([]);
    });

    it("names what the host cannot enforce, once, for the agent's log", async () => {
      const { manager } = await open();
      expect(await manager.limitations()).toEqual(
        flavour.version === 1
          ? []
          : ['device access is not restricted on cgroup v2: Skiff attaches no eBPF device filter yet'],
      );
    });

    it('refuses container ids that are not plain names', async () => {
      const { manager } = await open();
      expect(() => manager.open('a/../../b')).toThrow(/invalid container id/);
    });
  });
}
