/**
 * What the v1 and v2 managers share: validate, resolve, plan, apply; and the life of a
 * container's cgroup (freeze, kill, wait until empty, remove), which differs between versions
 * only in the files it reads and writes.
 */
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { notFound, unavailable } from '../engine-error.js';
import { resolveBlockDevices } from './block-devices.js';
import { applyCgroupPlan } from './cgroup-executor.js';
import { errnoCode, readOptional } from './cgroup-fs.js';
import type { CgroupLayout } from './cgroup-layout.js';
import type {
  CgroupContext,
  CgroupManager,
  ContainerCgroup,
  CreateCgroupOptions,
  CreatedCgroup,
  ShimCgroup,
} from './cgroup-manager.js';
import {
  containerCgroupDir,
  planCgroup,
  planParentCgroups,
  type CgroupHostFacts,
  type CgroupPlan,
  type ParentCgroupState,
} from './cgroup-plan.js';
import type { CgroupStats } from './cgroup-stats.js';
import { containerDeviceAccess } from './device-rules.js';
import { validateResources, type DockerResources } from './docker-resources.js';

export abstract class BaseCgroupManager implements CgroupManager {
  /** parentFiles(), listed once per prepare(). */
  private files: Promise<Map<string, Set<string>>> | undefined;

  constructor(protected readonly context: CgroupContext) {}

  get layout(): CgroupLayout {
    return this.context.layout;
  }

  /** Makes the parent cgroup in every hierarchy; safe to repeat. */
  async prepare(): Promise<void> {
    const plan = planParentCgroups(this.layout, this.context.parent, await this.parentState());
    this.files = undefined;
    await applyCgroupPlan(this.context.fs, plan, `the cgroup parent ${this.context.parent}`);
  }

  protected abstract parentState(): Promise<ParentCgroupState>;
  /** What the host offers containers now: the files of the parent cgroup, the cpuset, the CPUs. */
  abstract hostFacts(): Promise<CgroupHostFacts>;
  protected abstract handle(containerId: string): ContainerCgroup;

  async check(resources: DockerResources, options: CreateCgroupOptions = {}): Promise<string[]> {
    return (await this.plan('check', resources, 'create', options)).warnings;
  }

  async create(
    containerId: string,
    resources: DockerResources,
    options: CreateCgroupOptions = {},
  ): Promise<CreatedCgroup> {
    const plan = await this.plan(containerId, resources, 'create', options);
    const cgroup = this.handle(containerId);
    const made: string[] = [];
    try {
      await applyCgroupPlan(this.context.fs, plan, `container ${containerId}`, made);
    } catch (error) {
      // Only what this call made: an existing cgroup (a conflict) is not ours to remove.
      for (const dir of made.reverse()) await this.context.fs.rmdir(dir).catch(() => undefined);
      throw error;
    }
    return { cgroup, warnings: plan.warnings };
  }

  open(containerId: string): ContainerCgroup {
    return this.handle(containerId);
  }

  async list(): Promise<string[]> {
    const ids = new Set<string>();
    for (const dir of this.hierarchyDirs()) {
      try {
        for (const id of await this.context.fs.subdirectories(join(dir, this.context.parent))) ids.add(id);
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
    }
    return [...ids].sort();
  }

  protected abstract hierarchyDirs(): string[];
  abstract limitations(): Promise<string[]>;

  /** Nothing here writes: validation, device numbers, host facts, then the pure planner. */
  async plan(
    containerId: string,
    resources: DockerResources,
    mode: 'create' | 'update',
    options: CreateCgroupOptions = {},
  ): Promise<CgroupPlan> {
    validateResources(resources);
    const blockDevices = await resolveBlockDevices(resources, this.context.statDevice);
    const facts = await this.hostFacts();
    return planCgroup(
      { layout: this.layout, parent: this.context.parent, facts },
      {
        containerId,
        resources,
        blockDevices,
        mode,
        ...(mode === 'create' ? { deviceAccess: options.devices ?? containerDeviceAccess() } : {}),
      },
    );
  }

  /**
   * The control files of the parent cgroup in each hierarchy: a container's cgroup gets the same.
   * They are fixed once prepare() has made the parent (v1: by the mounted hierarchies; v2: by the
   * controllers it enabled), so they are listed once rather than on every create and start.
   */
  protected parentFiles(): Promise<Map<string, Set<string>>> {
    this.files ??= this.listParentFiles().catch((error: unknown) => {
      this.files = undefined;
      throw error;
    });
    return this.files;
  }

  private async listParentFiles(): Promise<Map<string, Set<string>>> {
    const dirs = this.hierarchyDirs();
    const listed = await Promise.all(
      dirs.map((dir) => this.context.fs.entries(join(dir, this.context.parent)).catch(() => [] as string[])),
    );
    return new Map(dirs.map((dir, index) => [dir, new Set(listed[index])]));
  }
}

export type FreezerState = 'frozen' | 'freezing' | 'thawed';

export abstract class BaseContainerCgroup implements ContainerCgroup {
  constructor(
    protected readonly manager: BaseCgroupManager,
    protected readonly context: CgroupContext,
    readonly containerId: string,
  ) {
    containerCgroupDir('/', context.parent, containerId); // checks the id
  }

  abstract paths(): string[];
  abstract shimCgroup(): ShimCgroup;
  abstract stats(): Promise<CgroupStats>;
  abstract oomKillCount(): Promise<number>;
  /** The directory whose cgroup.procs lists the container's processes. */
  protected abstract processDir(): string;
  /** The file that freezes and thaws, or undefined without a freezer. */
  protected abstract freezerFile(): string | undefined;
  protected abstract freezerValue(frozen: boolean): string;
  protected abstract freezerState(): Promise<FreezerState | undefined>;
  /** One write that kills everything (v2's cgroup.kill); false where there is none. */
  protected abstract killAtOnce(): Promise<boolean>;

  protected get subject(): string {
    return `container ${this.containerId}`;
  }

  async exists(): Promise<boolean> {
    for (const dir of this.paths()) if (await this.context.fs.exists(dir)) return true;
    return false;
  }

  async update(resources: DockerResources): Promise<string[]> {
    if (!(await this.exists())) throw notFound(`${this.subject} has no cgroup: it is not running`);
    const plan = await this.manager.plan(this.containerId, resources, 'update');
    await applyCgroupPlan(this.context.fs, plan, this.subject);
    return plan.warnings;
  }

  async oomKilled(): Promise<boolean> {
    return (await this.oomKillCount()) > 0;
  }

  async isFrozen(): Promise<boolean> {
    return (await this.freezerState()) === 'frozen';
  }

  async freeze(): Promise<void> {
    const deadline = Date.now() + this.context.timeoutMs;
    await this.requestFreezer(true, 'pause');
    let requestedAt = Date.now();
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      if ((await this.freezerState()) === 'frozen') return;
      if (Date.now() > deadline) {
        await this.requestFreezer(false, 'pause').catch(() => undefined);
        throw unavailable(
          `cannot pause ${this.subject}: its processes did not freeze within ${this.context.timeoutMs} ms`,
        );
      }
      // A v1 freezer can stay FREEZING when a task was forking at the time; asking again finishes it.
      if (Date.now() - requestedAt >= 100) {
        await this.requestFreezer(true, 'pause');
        requestedAt = Date.now();
      }
      await delay(wait);
    }
  }

  async thaw(): Promise<void> {
    const deadline = Date.now() + this.context.timeoutMs;
    await this.requestFreezer(false, 'unpause');
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      const state = await this.freezerState();
      if (state === 'thawed' || state === undefined) return;
      if (Date.now() > deadline) {
        throw unavailable(`cannot unpause ${this.subject}: it did not thaw within ${this.context.timeoutMs} ms`);
      }
      await delay(wait);
    }
  }

  private async requestFreezer(frozen: boolean, action: string): Promise<void> {
    const file = this.freezerFile();
    if (file === undefined) throw unavailable(`cannot ${action} ${this.subject}: this host has no cgroup freezer`);
    try {
      await this.context.fs.writeFile(file, this.freezerValue(frozen));
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') throw notFound(`cannot ${action} ${this.subject}: it has no cgroup (${file})`);
      throw error;
    }
  }

  async pids(): Promise<number[]> {
    return this.pidsIn([this.processDir()]);
  }

  /** Every process in any of the container's directories and their children. */
  protected async pidsIn(dirs: string[]): Promise<number[]> {
    const pids = new Set<number>();
    const visit = async (dir: string): Promise<void> => {
      const procs = await readOptional(this.context.fs, join(dir, 'cgroup.procs'));
      if (procs === undefined) return;
      for (const line of procs.split('\n')) if (/^\d+$/.test(line.trim())) pids.add(Number(line.trim()));
      for (const child of await this.context.fs.subdirectories(dir).catch(() => [] as string[])) {
        await visit(join(dir, child));
      }
    };
    for (const dir of dirs) await visit(dir);
    return [...pids].sort((a, b) => a - b);
  }

  async killAll(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (signal === 'SIGKILL' && (await this.killAtOnce())) return;
    // Frozen, no process can fork a child that the list below would miss.
    const state = this.freezerFile() === undefined ? undefined : await this.freezerState();
    let froze = false;
    if (state === 'thawed') {
      froze = await this.freeze().then(
        () => true,
        () => false, // kill unfrozen rather than not at all
      );
    }
    for (const pid of await this.pidsIn(this.paths())) {
      try {
        this.context.kill(pid, signal);
      } catch (error) {
        if (errnoCode(error) !== 'ESRCH') throw error;
      }
    }
    // A frozen process acts on SIGKILL only once thawed; a paused container that is killed stays killed.
    if (froze || (state !== undefined && state !== 'thawed' && signal === 'SIGKILL')) await this.thaw();
  }

  async destroy(): Promise<void> {
    const deadline = Date.now() + this.context.timeoutMs;
    // Usually every process is gone and no child cgroup was made: one rmdir per directory, side
    // by side, is all it takes. Whatever is left (EBUSY) goes the careful way below.
    const outcomes = await Promise.all(
      this.paths().map((dir) =>
        this.context.fs.rmdir(dir).then(
          () => undefined,
          (error: unknown) => (errnoCode(error) === 'ENOENT' ? undefined : dir),
        ),
      ),
    );
    const dirs = outcomes.filter((dir): dir is string => dir !== undefined);
    if (dirs.length === 0) return;
    let killedAt = 0;
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      const left = await this.pidsIn(dirs);
      if (left.length === 0) break;
      if (Date.now() > deadline) {
        throw unavailable(
          `cannot remove the cgroup of ${this.subject}: processes ${left.join(', ')} still run after ${this.context.timeoutMs} ms`,
        );
      }
      if (Date.now() - killedAt >= 500) {
        await this.killAll('SIGKILL');
        killedAt = Date.now();
      }
      await delay(wait);
    }
    for (const dir of dirs) await this.removeTree(dir, deadline);
  }

  /** Child cgroups first; rmdir answers EBUSY for a moment after the last task has gone. */
  private async removeTree(dir: string, deadline: number): Promise<void> {
    const children = await this.context.fs.subdirectories(dir).catch((error: unknown) => {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    });
    if (children === undefined) return;
    for (const child of children) await this.removeTree(join(dir, child), deadline);
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      try {
        await this.context.fs.rmdir(dir);
        return;
      } catch (error) {
        const code = errnoCode(error);
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY' || Date.now() > deadline) {
          throw unavailable(`cannot remove the cgroup of ${this.subject} at ${dir}: ${code ?? String(error)}`);
        }
      }
      await delay(wait);
    }
  }
}
