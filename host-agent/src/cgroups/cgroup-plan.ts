/**
 * Plans, as data, the directories and control-file writes that give a container its limits
 * (STYLE.md: plan, then apply). Pure: what the host offers comes in as CgroupHostFacts, and
 * everything refusable is refused here, before one directory is made.
 */
import { join } from 'node:path';

import { invalidArgument } from '../engine-error.js';
import type { DeviceNumber } from './block-devices.js';
import type { CgroupLayout, CgroupV1Layout, CgroupV2Layout, V1Controller } from './cgroup-layout.js';
import { cpuListIds, parseCpuList } from './cpu-list.js';
import { formatDeviceRule, type DeviceAccess } from './device-rules.js';
import {
  clampCpuShares,
  DEFAULT_CPU_PERIOD_US,
  effectiveMemorySwap,
  THROTTLE_FIELDS,
  type DockerResources,
  type ThrottleField,
} from './docker-resources.js';

export interface CgroupWrite {
  /** A control file of the directory, e.g. `memory.limit_in_bytes`. */
  file: string;
  value: string;
}

export interface CgroupDirPlan {
  /** The hierarchy, for messages: `memory`, `cpu,cpuacct`, `name=systemd`, `unified` or `cgroup2`. */
  hierarchy: string;
  dir: string;
  /** `new`: make it, and fail if it exists; `ensure`: make it unless it exists; `none`: it exists. */
  mkdir: 'new' | 'ensure' | 'none';
  /** In order: some files must be written before others (see the v1 memory limits). */
  writes: CgroupWrite[];
}

export interface CgroupPlan {
  dirs: CgroupDirPlan[];
  /** What Docker would report as Warnings: settings this host cannot honour and that were dropped. */
  warnings: string[];
}

/** What the host offers, read once by the manager (manager code probes; the planner only looks). */
export interface CgroupHostFacts {
  /** The control files a container's cgroup gets, per hierarchy directory (seen in the parent cgroup). */
  files: ReadonlyMap<string, ReadonlySet<string>>;
  /** The CPUs and memory nodes containers may use: the parent cgroup's effective cpuset. */
  cpus: string;
  mems: string;
  /** The ceiling of `--cpus`. */
  cpuCount: number;
}

export interface CgroupSite {
  layout: CgroupLayout;
  /** The cgroup every container's cgroup is made in, relative to each hierarchy's root: `skiff`. */
  parent: string;
  facts: CgroupHostFacts;
}

export interface CgroupPlanInput {
  containerId: string;
  /** Already checked with validateResources. */
  resources: DockerResources;
  /** The numbers of the devices the block I/O fields name (resolveBlockDevices). */
  blockDevices?: ReadonlyMap<string, DeviceNumber>;
  /** Given at create; `docker update` cannot change device access, so updates leave it out. */
  deviceAccess?: DeviceAccess;
  /**
   * `create`: a new cgroup in every hierarchy; values equal to the kernel's defaults are not written.
   * `update`: the existing cgroup, with every limit the resources describe written again,
   * "unlimited" included (the resources are the merged whole, see mergeResourceUpdate).
   */
  mode: 'create' | 'update';
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The cgroup directory of a container under one hierarchy. */
export function containerCgroupDir(hierarchyDir: string, parent: string, containerId: string): string {
  checkName('container id', containerId);
  return join(hierarchyDir, parent, containerId);
}

export function checkCgroupParentName(parent: string): void {
  checkName('cgroup parent', parent);
}

function checkName(what: string, name: string): void {
  if (!ID_PATTERN.test(name)) {
    throw invalidArgument(`invalid ${what} ${JSON.stringify(name)}: use letters, digits, '_', '.' and '-'`);
  }
}

export function planCgroup(site: CgroupSite, input: CgroupPlanInput): CgroupPlan {
  checkName('cgroup parent', site.parent);
  checkName('container id', input.containerId);
  checkHostLimits(site.facts, input.resources);
  switch (site.layout.version) {
    case 1:
      return new V1Planner(site.layout, site, input).plan();
    case 2:
      return new V2Planner(site.layout, site, input).plan();
  }
}

/** The checks Docker makes against the machine: the CPUs that exist. */
function checkHostLimits(facts: CgroupHostFacts, resources: DockerResources): void {
  const nanoCpus = resources.NanoCpus ?? 0;
  if (nanoCpus > facts.cpuCount * 1e9) {
    throw invalidArgument(
      `number of CPUs (NanoCpus) ${nanoCpus / 1e9} is more than this host has: ${facts.cpuCount} CPUs are available`,
    );
  }
  for (const [field, available] of [
    ['CpusetCpus', facts.cpus],
    ['CpusetMems', facts.mems],
  ] as const) {
    const requested = resources[field];
    if (!requested) continue;
    const parsed = parseCpuList(requested);
    if ('error' in parsed) throw invalidArgument(`invalid ${field} "${requested}": ${parsed.error}`);
    const offered = new Set(cpuListIds(available));
    const missing = parsed.ids.filter((id) => !offered.has(id));
    if (missing.length > 0) {
      const what = field === 'CpusetCpus' ? 'CPUs' : 'memory nodes';
      throw invalidArgument(
        `${what} ${missing.join(',')} requested in ${field} "${requested}" are not available: this host offers ${available || 'none'}`,
      );
    }
  }
}

/** cpu.weight (1–10000) from v1 shares (2–262144), the conversion runc, crun and systemd share. */
export function cpuSharesToWeight(shares: number): number {
  return 1 + Math.floor(((clampCpuShares(shares) - 2) * 9999) / 262_142);
}

/** io.weight (1–10000) from Docker's block I/O weight (10–1000). */
export function blkioWeightToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** quota and period of `--cpus`: Docker keeps the default period and scales the quota. */
function nanoCpusQuota(nanoCpus: number): number {
  return Math.floor((nanoCpus * DEFAULT_CPU_PERIOD_US) / 1e9);
}

abstract class Planner {
  protected readonly warnings: string[] = [];
  protected readonly r: DockerResources;
  protected readonly update: boolean;

  constructor(
    protected readonly site: CgroupSite,
    protected readonly input: CgroupPlanInput,
  ) {
    this.r = input.resources;
    this.update = input.mode === 'update';
  }

  protected dirOf(hierarchyDir: string): string {
    return join(hierarchyDir, this.site.parent, this.input.containerId);
  }

  protected has(hierarchyDir: string, file: string): boolean {
    return this.site.facts.files.get(hierarchyDir)?.has(file) ?? false;
  }

  protected device(path: string): string {
    const number = this.input.blockDevices?.get(path);
    if (!number) throw new Error(`block device ${path} was not resolved before planning`);
    return `${number.major}:${number.minor}`;
  }

  protected unsupported(what: string, dir: string, file: string): never {
    throw invalidArgument(`${what} is not supported on this host: ${dir} has no ${file}`);
  }

  /** The first of the files the hierarchy has, or an error naming them all. */
  protected oneOf(what: string, hierarchyDir: string, files: string[]): string {
    const found = files.find((f) => this.has(hierarchyDir, f));
    if (found !== undefined) return found;
    throw invalidArgument(
      `${what} is not supported on this host: ${join(hierarchyDir, this.site.parent)} has none of ${files.join(', ')}`,
    );
  }
}

class V1Planner extends Planner {
  private readonly byDir = new Map<string, CgroupWrite[]>();

  constructor(
    private readonly layout: CgroupV1Layout,
    site: CgroupSite,
    input: CgroupPlanInput,
  ) {
    super(site, input);
  }

  plan(): CgroupPlan {
    this.planMemory();
    this.planCpu();
    this.planCpuset();
    this.planPids();
    this.planBlkio();
    this.planDevices();
    const dirs: CgroupDirPlan[] = [];
    for (const hierarchy of this.layout.hierarchies) {
      const writes = this.byDir.get(hierarchy.dir) ?? [];
      if (this.update && writes.length === 0) continue;
      dirs.push({
        hierarchy: hierarchy.name === undefined ? hierarchy.controllers.join(',') : `name=${hierarchy.name}`,
        dir: this.dirOf(hierarchy.dir),
        mkdir: this.update ? 'none' : 'new',
        writes,
      });
    }
    if (this.layout.unified !== undefined && !this.update) {
      dirs.push({ hierarchy: 'unified', dir: this.dirOf(this.layout.unified), mkdir: 'new', writes: [] });
    }
    return { dirs, warnings: this.warnings };
  }

  /** The hierarchy of a controller, or an error saying which setting needs it. */
  private controllerDir(controller: V1Controller, what: string): string {
    const dir = this.layout.controllers[controller];
    if (dir === undefined) {
      throw invalidArgument(`${what} needs the ${controller} cgroup controller, which this host has not mounted`);
    }
    return dir;
  }

  private write(hierarchyDir: string, what: string, file: string, value: string | number): void {
    if (!this.has(hierarchyDir, file)) this.unsupported(what, join(hierarchyDir, this.site.parent), file);
    let writes = this.byDir.get(hierarchyDir);
    if (!writes) this.byDir.set(hierarchyDir, (writes = []));
    writes.push({ file, value: String(value) });
  }

  private planMemory(): void {
    const memory = this.r.Memory ?? 0;
    const total = effectiveMemorySwap(this.r);
    const reservation = this.r.MemoryReservation ?? 0;
    const swappiness = this.r.MemorySwappiness;
    const oomKillDisable = this.r.OomKillDisable === true;
    if (memory === 0 && reservation === 0 && !isSet(swappiness) && !oomKillDisable) return;
    const dir = this.controllerDir('memory', 'a memory limit');
    const swapFile = 'memory.memsw.limit_in_bytes';
    const accountsSwap = this.has(dir, swapFile);
    if (memory > 0) {
      // The kernel keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every write,
      // so an update opens the swap limit first; then either order of old and new values works.
      if (this.update && accountsSwap) this.write(dir, 'a swap limit', swapFile, -1);
      this.write(dir, 'a memory limit', 'memory.limit_in_bytes', memory);
      if (accountsSwap && total > 0) this.write(dir, 'a swap limit', swapFile, total);
    }
    if (!accountsSwap && (this.r.MemorySwap ?? 0) > 0) {
      this.warnings.push(
        'this kernel does not limit swap (memory.memsw.limit_in_bytes is missing): the memory limit applies without a swap limit',
      );
    }
    if (reservation > 0) this.write(dir, 'a memory reservation', 'memory.soft_limit_in_bytes', reservation);
    if (isSet(swappiness)) {
      if (this.has(dir, 'memory.swappiness')) this.write(dir, 'memory swappiness', 'memory.swappiness', swappiness);
      else this.warnings.push('this kernel does not support memory swappiness: MemorySwappiness was discarded');
    }
    if (oomKillDisable) {
      if (this.has(dir, 'memory.oom_control')) this.write(dir, 'disabling the OOM killer', 'memory.oom_control', 1);
      else this.warnings.push('this kernel cannot disable the OOM killer: OomKillDisable was discarded');
      if (memory === 0) {
        this.warnings.push(
          'the OOM killer is disabled for a container without a memory limit: the host may run out of memory',
        );
      }
    }
  }

  private planCpu(): void {
    const shares = this.r.CpuShares ?? 0;
    const nanoCpus = this.r.NanoCpus ?? 0;
    const period = this.r.CpuPeriod ?? 0;
    const quota = this.r.CpuQuota ?? 0;
    const writesQuota = quota > 0 || (quota === -1 && this.update);
    if (shares === 0 && nanoCpus === 0 && period === 0 && !writesQuota) return;
    const dir = this.controllerDir('cpu', 'a CPU limit');
    if (shares > 0) this.write(dir, 'CPU shares', 'cpu.shares', clampCpuShares(shares));
    // Period before quota: the quota is checked against the period in force.
    if (nanoCpus > 0) {
      this.write(dir, 'a CPU limit', 'cpu.cfs_period_us', DEFAULT_CPU_PERIOD_US);
      this.write(dir, 'a CPU limit', 'cpu.cfs_quota_us', nanoCpusQuota(nanoCpus));
      return;
    }
    if (period > 0) this.write(dir, 'a CPU period', 'cpu.cfs_period_us', period);
    if (writesQuota) this.write(dir, 'a CPU quota', 'cpu.cfs_quota_us', quota);
  }

  /** A v1 cpuset cgroup with an empty cpuset.cpus or cpuset.mems refuses tasks (ENOSPC). */
  private planCpuset(): void {
    const cpus = this.r.CpusetCpus ?? '';
    const mems = this.r.CpusetMems ?? '';
    if (this.layout.controllers.cpuset === undefined && cpus === '' && mems === '') return;
    if (this.update && cpus === '' && mems === '') return;
    const dir = this.controllerDir('cpuset', 'a cpuset');
    if (!this.update || cpus !== '') this.write(dir, 'a cpuset', 'cpuset.cpus', cpus || this.site.facts.cpus);
    if (!this.update || mems !== '') this.write(dir, 'a cpuset', 'cpuset.mems', mems || this.site.facts.mems);
  }

  private planPids(): void {
    const limit = this.r.PidsLimit;
    if (limit === undefined || limit === null) return;
    if (limit <= 0 && !this.update) return;
    if (limit <= 0 && this.layout.controllers.pids === undefined) return;
    const dir = this.controllerDir('pids', 'a pids limit');
    this.write(dir, 'a pids limit', 'pids.max', limit > 0 ? limit : 'max');
  }

  private planBlkio(): void {
    const weight = this.r.BlkioWeight ?? 0;
    const weightDevices = this.r.BlkioWeightDevice ?? [];
    const throttles = THROTTLE_FIELDS.filter((f) => (this.r[f] ?? []).length > 0);
    if (weight === 0 && weightDevices.length === 0 && throttles.length === 0) return;
    const dir = this.controllerDir('blkio', 'a block I/O limit');
    if (weight > 0) {
      // blkio.weight belonged to the CFQ scheduler, gone since Linux 5.0; BFQ has its own file.
      const file = this.oneOf('block I/O weight (BlkioWeight)', dir, ['blkio.weight', 'blkio.bfq.weight']);
      this.write(dir, 'block I/O weight', file, weight);
    }
    if (weightDevices.length > 0) {
      const file = this.oneOf('per-device block I/O weight (BlkioWeightDevice)', dir, [
        'blkio.weight_device',
        'blkio.bfq.weight_device',
      ]);
      for (const d of weightDevices) this.write(dir, 'block I/O weight', file, `${this.device(d.Path)} ${d.Weight}`);
    }
    for (const field of throttles) {
      for (const d of this.r[field] ?? []) {
        this.write(dir, `a block I/O limit (${field})`, V1_THROTTLE_FILES[field], `${this.device(d.Path)} ${d.Rate}`);
      }
    }
  }

  private planDevices(): void {
    const access = this.input.deviceAccess;
    if (access === undefined) return;
    const dir = this.layout.controllers.devices;
    if (dir === undefined) {
      this.warnings.push('the devices cgroup controller is not mounted: device access is not restricted');
      return;
    }
    if (access.allowAll) {
      this.write(dir, 'device access', 'devices.allow', 'a');
      return;
    }
    this.write(dir, 'device access', 'devices.deny', 'a');
    for (const rule of access.allow) this.write(dir, 'device access', 'devices.allow', formatDeviceRule(rule));
  }
}

const V1_THROTTLE_FILES: Record<ThrottleField, string> = {
  BlkioDeviceReadBps: 'blkio.throttle.read_bps_device',
  BlkioDeviceWriteBps: 'blkio.throttle.write_bps_device',
  BlkioDeviceReadIOps: 'blkio.throttle.read_iops_device',
  BlkioDeviceWriteIOps: 'blkio.throttle.write_iops_device',
};

const V2_THROTTLE_KEYS: Record<ThrottleField, string> = {
  BlkioDeviceReadBps: 'rbps',
  BlkioDeviceWriteBps: 'wbps',
  BlkioDeviceReadIOps: 'riops',
  BlkioDeviceWriteIOps: 'wiops',
};

class V2Planner extends Planner {
  private readonly writes: CgroupWrite[] = [];
  private readonly root: string;

  constructor(layout: CgroupV2Layout, site: CgroupSite, input: CgroupPlanInput) {
    super(site, input);
    this.root = layout.root;
  }

  plan(): CgroupPlan {
    this.planMemory();
    this.planCpu();
    this.planCpuset();
    this.planPids();
    this.planIo();
    // Device access: v2 restricts devices only through an eBPF program, which Skiff does not
    // attach yet. A gap of the host rather than of one container: limitations() reports it once.
    return {
      dirs: [
        {
          hierarchy: 'cgroup2',
          dir: this.dirOf(this.root),
          mkdir: this.update ? 'none' : 'new',
          writes: this.writes,
        },
      ],
      warnings: this.warnings,
    };
  }

  private write(what: string, file: string, value: string | number): void {
    if (!this.has(this.root, file)) {
      const controller = file.split('.')[0] ?? file;
      throw invalidArgument(
        `${what} is not supported on this host: the ${controller} controller is not enabled for ${join(this.root, this.site.parent)} (no ${file})`,
      );
    }
    this.writes.push({ file, value: String(value) });
  }

  private planMemory(): void {
    const memory = this.r.Memory ?? 0;
    const total = effectiveMemorySwap(this.r);
    if (memory > 0) this.write('a memory limit', 'memory.max', memory);
    // v2 limits swap alone, where Docker's MemorySwap counts memory and swap together.
    if (total > 0 && memory > 0) {
      if (this.has(this.root, 'memory.swap.max')) this.write('a swap limit', 'memory.swap.max', total - memory);
      else if ((this.r.MemorySwap ?? 0) > 0) {
        this.warnings.push(
          'this kernel does not limit swap (memory.swap.max is missing): the memory limit applies without a swap limit',
        );
      }
    } else if (total === -1 && this.update && this.has(this.root, 'memory.swap.max')) {
      this.write('a swap limit', 'memory.swap.max', 'max');
    }
    const reservation = this.r.MemoryReservation ?? 0;
    if (reservation > 0) this.write('a memory reservation', 'memory.low', reservation);
    if (isSet(this.r.MemorySwappiness)) {
      this.warnings.push('cgroup v2 has no per-cgroup swappiness: MemorySwappiness was discarded');
    }
    if (this.r.OomKillDisable === true) {
      this.warnings.push('cgroup v2 cannot disable the OOM killer: OomKillDisable was discarded');
    }
  }

  private planCpu(): void {
    const shares = this.r.CpuShares ?? 0;
    const nanoCpus = this.r.NanoCpus ?? 0;
    const period = this.r.CpuPeriod ?? 0;
    const quota = this.r.CpuQuota ?? 0;
    if (shares > 0) this.write('CPU shares', 'cpu.weight', cpuSharesToWeight(shares));
    if (nanoCpus > 0) {
      this.write('a CPU limit', 'cpu.max', `${nanoCpusQuota(nanoCpus)} ${DEFAULT_CPU_PERIOD_US}`);
    } else if (quota > 0 || period > 0 || (quota === -1 && this.update)) {
      this.write('a CPU quota', 'cpu.max', `${quota > 0 ? quota : 'max'} ${period || DEFAULT_CPU_PERIOD_US}`);
    }
  }

  /** Unlike v1, an empty v2 cpuset inherits the parent's, so only requested sets are written. */
  private planCpuset(): void {
    if (this.r.CpusetCpus) this.write('a cpuset', 'cpuset.cpus', this.r.CpusetCpus);
    if (this.r.CpusetMems) this.write('a cpuset', 'cpuset.mems', this.r.CpusetMems);
  }

  private planPids(): void {
    const limit = this.r.PidsLimit;
    if (limit === undefined || limit === null) return;
    if (limit <= 0 && (!this.update || !this.has(this.root, 'pids.max'))) return;
    this.write('a pids limit', 'pids.max', limit > 0 ? limit : 'max');
  }

  private planIo(): void {
    const weight = this.r.BlkioWeight ?? 0;
    const weightDevices = this.r.BlkioWeightDevice ?? [];
    const bfq = this.has(this.root, 'io.bfq.weight');
    if (weight > 0 || weightDevices.length > 0) {
      // io.bfq.weight takes Docker's 10–1000 as is; io.weight has a 1–10000 scale.
      const file = bfq ? 'io.bfq.weight' : this.oneOf('block I/O weight (BlkioWeight)', this.root, ['io.weight']);
      const scale = (w: number) => (bfq ? w : blkioWeightToIoWeight(w));
      if (weight > 0) this.write('block I/O weight', file, scale(weight));
      for (const d of weightDevices) this.write('block I/O weight', file, `${this.device(d.Path)} ${scale(d.Weight)}`);
    }
    const limits = new Map<string, string[]>();
    for (const field of THROTTLE_FIELDS) {
      for (const d of this.r[field] ?? []) {
        const device = this.device(d.Path);
        const keys = limits.get(device) ?? [];
        keys.push(`${V2_THROTTLE_KEYS[field]}=${d.Rate > 0 ? d.Rate : 'max'}`);
        limits.set(device, keys);
      }
    }
    for (const [device, keys] of limits) this.write('a block I/O limit', 'io.max', `${device} ${keys.join(' ')}`);
  }
}

function isSet(swappiness: number | null | undefined): swappiness is number {
  return swappiness !== undefined && swappiness !== null && swappiness !== -1;
}

/** What the parent cgroups hold now; undefined where the file or the parent does not exist. */
export interface ParentCgroupState {
  /** v1: cpuset.cpus and cpuset.mems of the cpuset hierarchy's root and of the parent. */
  rootCpus?: string;
  rootMems?: string;
  parentCpus?: string;
  parentMems?: string;
  /** v2: controllers enabled in cgroup.subtree_control of the root and of the parent. */
  rootSubtree?: string[];
  parentSubtree?: string[];
}

/** The v2 controllers containers are given: those the planner writes to. */
export const V2_CONTAINER_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'pids'] as const;

/**
 * The parent cgroup (`skiff`) in every hierarchy, made once per host. v1: its cpuset copied from
 * the root, or no container below it could take tasks. v2: the controllers containers need
 * enabled on the way down, one write each so an absent one fails alone.
 */
export function planParentCgroups(layout: CgroupLayout, parent: string, state: ParentCgroupState): CgroupPlan {
  checkName('cgroup parent', parent);
  switch (layout.version) {
    case 1: {
      const dirs: CgroupDirPlan[] = layout.hierarchies.map((h) => {
        const writes: CgroupWrite[] = [];
        if (h.controllers.includes('cpuset')) {
          if (!state.parentCpus?.trim()) writes.push({ file: 'cpuset.cpus', value: (state.rootCpus ?? '').trim() });
          if (!state.parentMems?.trim()) writes.push({ file: 'cpuset.mems', value: (state.rootMems ?? '').trim() });
        }
        return {
          hierarchy: h.name === undefined ? h.controllers.join(',') : `name=${h.name}`,
          dir: join(h.dir, parent),
          mkdir: 'ensure',
          writes,
        };
      });
      if (layout.unified !== undefined) {
        dirs.push({ hierarchy: 'unified', dir: join(layout.unified, parent), mkdir: 'ensure', writes: [] });
      }
      return { dirs, warnings: [] };
    }
    case 2: {
      const wanted = V2_CONTAINER_CONTROLLERS.filter((c) => layout.controllers.includes(c));
      const enable = (enabled: string[] | undefined) =>
        wanted
          .filter((c) => !(enabled ?? []).includes(c))
          .map((c) => ({ file: 'cgroup.subtree_control', value: `+${c}` }));
      return {
        dirs: [
          { hierarchy: 'cgroup2', dir: layout.root, mkdir: 'none', writes: enable(state.rootSubtree) },
          {
            hierarchy: 'cgroup2',
            dir: join(layout.root, parent),
            mkdir: 'ensure',
            writes: enable(state.parentSubtree),
          },
        ],
        warnings: [],
      };
    }
  }
}
