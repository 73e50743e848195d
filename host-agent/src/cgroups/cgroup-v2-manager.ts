/**
 * cgroup v2: one directory in the unified hierarchy, with the controllers enabled on the way down
 * through each parent's cgroup.subtree_control.
 */
import { join } from 'node:path';

import { errnoCode, readOptional } from './cgroup-fs.js';
import type { CgroupV2Layout } from './cgroup-layout.js';
import { BaseCgroupManager, BaseContainerCgroup, type FreezerState } from './cgroup-manager-base.js';
import type { CgroupContext, ContainerCgroup, ShimCgroup } from './cgroup-manager.js';
import type { CgroupHostFacts, ParentCgroupState } from './cgroup-plan.js';
import { parseFlatKeyed, readV2Stats, type CgroupStats } from './cgroup-stats.js';

export class CgroupV2Manager extends BaseCgroupManager {
  constructor(
    context: CgroupContext,
    readonly v2: CgroupV2Layout,
  ) {
    super(context);
  }

  protected hierarchyDirs(): string[] {
    return [this.v2.root];
  }

  protected async parentState(): Promise<ParentCgroupState> {
    const list = async (dir: string) => {
      const text = await readOptional(this.context.fs, join(dir, 'cgroup.subtree_control'));
      return text === undefined ? undefined : text.split(/\s+/).filter(Boolean);
    };
    const [rootSubtree, parentSubtree] = await Promise.all([
      list(this.v2.root),
      list(join(this.v2.root, this.context.parent)),
    ]);
    return {
      ...(rootSubtree === undefined ? {} : { rootSubtree }),
      ...(parentSubtree === undefined ? {} : { parentSubtree }),
    };
  }

  async hostFacts(): Promise<CgroupHostFacts> {
    const parent = join(this.v2.root, this.context.parent);
    const [files, cpus, mems] = await Promise.all([
      this.parentFiles(),
      readOptional(this.context.fs, join(parent, 'cpuset.cpus.effective')).then((text) => text?.trim()),
      readOptional(this.context.fs, join(parent, 'cpuset.mems.effective')).then((text) => text?.trim()),
    ]);
    return {
      files,
      cpus: cpus || `0-${this.context.cpuCount - 1}`,
      mems: mems || '0',
      cpuCount: this.context.cpuCount,
    };
  }

  async limitations(): Promise<string[]> {
    const found = ['device access is not restricted on cgroup v2: Skiff attaches no eBPF device filter yet'];
    const files = (await this.hostFacts()).files.get(this.v2.root) ?? new Set<string>();
    const consequences: [string, string, string][] = [
      ['memory', 'memory.max', 'memory limits'],
      ['cpu', 'cpu.max', 'CPU weights and quotas'],
      ['cpuset', 'cpuset.cpus', 'cpusets'],
      ['pids', 'pids.max', 'pids limits'],
      ['io', 'io.max', 'block I/O limits'],
    ];
    for (const [controller, file, consequence] of consequences) {
      if (!files.has(file))
        found.push(`the ${controller} controller is not available to containers: no ${consequence}`);
    }
    if (files.has('memory.max') && !files.has('memory.swap.max')) {
      found.push('this kernel does not account swap (no memory.swap.max): memory limits apply without swap limits');
    }
    return found;
  }

  protected handle(containerId: string): ContainerCgroup {
    return new CgroupV2Container(this, this.context, this.v2, containerId);
  }
}

class CgroupV2Container extends BaseContainerCgroup {
  private readonly dir: string;

  constructor(manager: CgroupV2Manager, context: CgroupContext, v2: CgroupV2Layout, containerId: string) {
    super(manager, context, containerId);
    this.dir = join(v2.root, context.parent, containerId);
  }

  paths(): string[] {
    return [this.dir];
  }

  shimCgroup(): ShimCgroup {
    return { paths: [this.dir], oomEventsFile: join(this.dir, 'memory.events') };
  }

  protected processDir(): string {
    return this.dir;
  }

  /** cgroup.freeze exists in every non-root cgroup since Linux 5.2. */
  protected freezerFile(): string {
    return join(this.dir, 'cgroup.freeze');
  }

  protected freezerValue(frozen: boolean): string {
    return frozen ? '1' : '0';
  }

  /** cgroup.freeze is what was asked; cgroup.events' `frozen` is what the kernel has done. */
  protected async freezerState(): Promise<FreezerState | undefined> {
    const [asked, events] = await Promise.all([
      readOptional(this.context.fs, join(this.dir, 'cgroup.freeze')),
      readOptional(this.context.fs, join(this.dir, 'cgroup.events')),
    ]);
    if (asked === undefined || events === undefined) return undefined;
    if (parseFlatKeyed(events).frozen === 1) return 'frozen';
    return asked.trim() === '1' ? 'freezing' : 'thawed';
  }

  /** cgroup.kill (Linux 5.14+) kills every process, forking ones included, in one write. */
  protected async killAtOnce(): Promise<boolean> {
    try {
      await this.context.fs.writeFile(join(this.dir, 'cgroup.kill'), '1');
      return true;
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM') return false;
      throw error;
    }
  }

  async oomKillCount(): Promise<number> {
    const events = await readOptional(this.context.fs, join(this.dir, 'memory.events'));
    return events === undefined ? 0 : (parseFlatKeyed(events).oom_kill ?? 0);
  }

  stats(): Promise<CgroupStats> {
    return readV2Stats(this.dir, this.context);
  }
}
