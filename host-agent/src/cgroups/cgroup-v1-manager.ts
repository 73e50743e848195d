/**
 * cgroup v1: one directory per hierarchy (memory, cpu, cpuacct, cpuset, pids, blkio, devices,
 * freezer, named ones such as name=systemd, and a hybrid host's unified mount).
 */
import { join } from 'node:path';

import { readOptional } from './cgroup-fs.js';
import { hierarchyDirs, type CgroupV1Layout, type V1Controller } from './cgroup-layout.js';
import { BaseCgroupManager, BaseContainerCgroup, type FreezerState } from './cgroup-manager-base.js';
import type { CgroupContext, ContainerCgroup, ShimCgroup } from './cgroup-manager.js';
import type { CgroupHostFacts, ParentCgroupState } from './cgroup-plan.js';
import { parseFlatKeyed, readV1Stats, type CgroupStats } from './cgroup-stats.js';

export class CgroupV1Manager extends BaseCgroupManager {
  constructor(
    context: CgroupContext,
    readonly v1: CgroupV1Layout,
  ) {
    super(context);
  }

  protected hierarchyDirs(): string[] {
    return hierarchyDirs(this.v1);
  }

  protected async parentState(): Promise<ParentCgroupState> {
    const cpuset = this.v1.controllers.cpuset;
    if (cpuset === undefined) return {};
    const read = (file: string) => readOptional(this.context.fs, file);
    const parent = join(cpuset, this.context.parent);
    const [rootCpus, rootMems, parentCpus, parentMems] = await Promise.all([
      read(join(cpuset, 'cpuset.cpus')),
      read(join(cpuset, 'cpuset.mems')),
      read(join(parent, 'cpuset.cpus')),
      read(join(parent, 'cpuset.mems')),
    ]);
    return { rootCpus, rootMems, parentCpus, parentMems };
  }

  async hostFacts(): Promise<CgroupHostFacts> {
    const files = await this.parentFiles();
    const cpuset = this.v1.controllers.cpuset;
    let cpus = `0-${this.context.cpuCount - 1}`;
    let mems = '0';
    if (cpuset !== undefined) {
      const parent = join(cpuset, this.context.parent);
      const read = async (effective: string, plain: string) =>
        (
          (await readOptional(this.context.fs, join(parent, effective))) ??
          (await readOptional(this.context.fs, join(parent, plain))) ??
          ''
        ).trim();
      [cpus, mems] = await Promise.all([
        read('cpuset.effective_cpus', 'cpuset.cpus'),
        read('cpuset.effective_mems', 'cpuset.mems'),
      ]);
    }
    return { files, cpus, mems, cpuCount: this.context.cpuCount };
  }

  async limitations(): Promise<string[]> {
    const found: string[] = [];
    const consequences: [V1Controller, string][] = [
      ['memory', 'memory limits'],
      ['cpu', 'CPU shares and quotas'],
      ['cpuacct', 'CPU usage in stats'],
      ['cpuset', 'cpusets'],
      ['pids', 'pids limits'],
      ['blkio', 'block I/O limits'],
      ['freezer', 'pause'],
      ['devices', 'device access restrictions (containers can open any device node they can create)'],
    ];
    for (const [controller, consequence] of consequences) {
      if (this.v1.controllers[controller] === undefined) {
        found.push(`the ${controller} cgroup controller is not mounted: no ${consequence}`);
      }
    }
    const { files } = await this.hostFacts();
    const has = (controller: V1Controller, file: string) => {
      const dir = this.v1.controllers[controller];
      return dir === undefined || (files.get(dir)?.has(file) ?? false);
    };
    if (!has('memory', 'memory.memsw.limit_in_bytes')) {
      found.push(
        'this kernel does not account swap (no memory.memsw.limit_in_bytes): memory limits apply without swap limits',
      );
    }
    if (!has('blkio', 'blkio.weight') && !has('blkio', 'blkio.bfq.weight')) {
      found.push('no I/O scheduler with weights (no blkio.weight or blkio.bfq.weight): BlkioWeight is refused');
    }
    return found;
  }

  protected handle(containerId: string): ContainerCgroup {
    return new CgroupV1Container(this, this.context, this.v1, containerId);
  }
}

class CgroupV1Container extends BaseContainerCgroup {
  constructor(
    manager: CgroupV1Manager,
    context: CgroupContext,
    private readonly v1: CgroupV1Layout,
    containerId: string,
  ) {
    super(manager, context, containerId);
  }

  private dir(hierarchyDir: string): string {
    return join(hierarchyDir, this.context.parent, this.containerId);
  }

  private controllerDir(controller: V1Controller): string | undefined {
    const hierarchy = this.v1.controllers[controller];
    return hierarchy === undefined ? undefined : this.dir(hierarchy);
  }

  paths(): string[] {
    return hierarchyDirs(this.v1).map((d) => this.dir(d));
  }

  shimCgroup(): ShimCgroup {
    const memory = this.controllerDir('memory');
    return {
      paths: this.paths(),
      ...(memory === undefined ? {} : { oomEventsFile: join(memory, 'memory.oom_control') }),
    };
  }

  protected processDir(): string {
    return (
      this.controllerDir('pids') ?? this.controllerDir('freezer') ?? this.controllerDir('memory') ?? this.paths()[0]
    );
  }

  protected freezerFile(): string | undefined {
    const freezer = this.controllerDir('freezer');
    return freezer === undefined ? undefined : join(freezer, 'freezer.state');
  }

  protected freezerValue(frozen: boolean): string {
    return frozen ? 'FROZEN' : 'THAWED';
  }

  protected async freezerState(): Promise<FreezerState | undefined> {
    const file = this.freezerFile();
    if (file === undefined) return undefined;
    const state = (await readOptional(this.context.fs, file))?.trim();
    switch (state) {
      case 'FROZEN':
        return 'frozen';
      case 'FREEZING':
        return 'freezing';
      case 'THAWED':
        return 'thawed';
      default:
        return undefined;
    }
  }

  protected killAtOnce(): Promise<boolean> {
    return Promise.resolve(false);
  }

  /**
   * memory.oom_control's `oom_kill` counter (Linux 4.13+). Older kernels only show `under_oom`,
   * which is 1 while a task waits on a full cgroup with the OOM killer disabled.
   */
  async oomKillCount(): Promise<number> {
    const memory = this.controllerDir('memory');
    if (memory === undefined) return 0;
    const text = await readOptional(this.context.fs, join(memory, 'memory.oom_control'));
    if (text === undefined) return 0;
    const values = parseFlatKeyed(text);
    return values.oom_kill ?? values.under_oom ?? 0;
  }

  stats(): Promise<CgroupStats> {
    return readV1Stats(
      {
        cpu: this.controllerDir('cpu'),
        cpuacct: this.controllerDir('cpuacct'),
        memory: this.controllerDir('memory'),
        pids: this.controllerDir('pids'),
        blkio: this.controllerDir('blkio'),
      },
      this.context,
    );
  }
}
