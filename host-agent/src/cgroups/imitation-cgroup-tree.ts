/**
 * A temporary folder that behaves like /sys/fs/cgroup, for unit tests of anything that makes or
 * reads cgroups (no root needed). Like cgroupfs: mkdir fills a directory with the control files
 * of its hierarchy's controllers, a write to a missing file fails with ENOENT, rmdir refuses a
 * cgroup with processes or children (EBUSY) and otherwise takes its files along, a v1 memory
 * limit above the memory+swap limit is refused (EINVAL), and v2's cgroup.subtree_control,
 * cgroup.freeze and cgroup.kill act. Processes are numbers written into cgroup.procs; `kill`
 * stands in for process.kill and SIGKILL takes a number out of every cgroup.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';

import { nodeCgroupFs, WriteEachError, type CgroupFs } from './cgroup-fs.js';

export interface ImitationCgroupTree {
  /** Stands for /sys/fs/cgroup. */
  root: string;
  fs: CgroupFs;
  /** Every signal sent through `kill`, in order. */
  signals: { pid: number; signal: NodeJS.Signals }[];
  kill: (pid: number, signal: NodeJS.Signals) => void;
  /** Puts a process (a number) into the cgroup at `dir`. */
  addProcess(dir: string, pid: number): Promise<void>;
  /** Sets what a control file shows, as the kernel would (counters, stats). */
  setFile(path: string, content: string): Promise<void>;
  remove(): Promise<void>;
}

export interface ImitationOptions {
  /** Control files this kernel lacks in a new cgroup, e.g. `memory.memsw.limit_in_bytes` (no swap accounting). */
  omitFiles?: string[];
  /** Extra control files a new cgroup gets, e.g. `blkio.weight` (a kernel with CFQ). */
  extraFiles?: Record<string, string>;
  /** v2: the controllers the root offers; default cpuset, cpu, io, memory, pids. */
  controllers?: string[];
  /** The host's CPUs and memory nodes; default `0-1` and `0`. */
  cpus?: string;
  mems?: string;
}

const UNLIMITED_V1 = '9223372036854771712';

const V1_FILES: Record<string, Record<string, string>> = {
  common: { 'cgroup.procs': '', tasks: '', 'cgroup.clone_children': '0', notify_on_release: '0' },
  memory: {
    'memory.limit_in_bytes': UNLIMITED_V1,
    'memory.memsw.limit_in_bytes': UNLIMITED_V1,
    'memory.soft_limit_in_bytes': UNLIMITED_V1,
    'memory.swappiness': '60',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.usage_in_bytes': '0',
    'memory.max_usage_in_bytes': '0',
    'memory.failcnt': '0',
    'memory.stat': 'cache 0\nrss 0\n',
  },
  cpu: {
    'cpu.shares': '1024',
    'cpu.cfs_period_us': '100000',
    'cpu.cfs_quota_us': '-1',
    'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n',
  },
  cpuacct: {
    'cpuacct.usage': '0',
    'cpuacct.usage_percpu': '0 0 ',
    'cpuacct.usage_user': '0',
    'cpuacct.usage_sys': '0',
    'cpuacct.stat': 'user 0\nsystem 0\n',
  },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '', 'cpuset.effective_cpus': '', 'cpuset.effective_mems': '' },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  blkio: {
    'blkio.bfq.weight': '100',
    'blkio.bfq.weight_device': '',
    'blkio.bfq.io_service_bytes_recursive': 'Total 0\n',
    'blkio.bfq.io_serviced_recursive': 'Total 0\n',
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '',
    'blkio.throttle.write_iops_device': '',
    'blkio.throttle.io_service_bytes_recursive': 'Total 0\n',
    'blkio.throttle.io_serviced_recursive': 'Total 0\n',
  },
  devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' },
  freezer: { 'freezer.state': 'THAWED' },
};

const V2_FILES: Record<string, Record<string, string>> = {
  core: {
    'cgroup.procs': '',
    'cgroup.events': 'populated 0\nfrozen 0\n',
    'cgroup.freeze': '0',
    'cgroup.kill': '',
    'cgroup.subtree_control': '',
    'cgroup.type': 'domain',
    'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
  },
  cpu: { 'cpu.weight': '100', 'cpu.max': 'max 100000' },
  memory: {
    'memory.max': 'max',
    'memory.swap.max': 'max',
    'memory.low': '0',
    'memory.current': '0',
    'memory.peak': '0',
    'memory.stat': 'anon 0\nfile 0\n',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '', 'cpuset.cpus.effective': '', 'cpuset.mems.effective': '' },
  io: { 'io.weight': 'default 100', 'io.bfq.weight': 'default 100', 'io.max': '', 'io.stat': '' },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
};

/** This machine's v1 layout: one hierarchy per controller, name=systemd, and an empty cgroup2 at unified. */
export const V1_IMITATED_HIERARCHIES = ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids'];

export async function imitateCgroupV1(options: ImitationOptions = {}): Promise<ImitationCgroupTree> {
  const root = await mkdtemp(join(tmpdir(), 'skiff-cgroup-v1-'));
  const tree = new Tree(root, 1, options);
  await Promise.all(
    [...V1_IMITATED_HIERARCHIES, 'systemd'].map(async (name) => {
      await mkdir(join(root, name));
      await tree.populate(join(root, name));
    }),
  );
  await writeFile(join(root, 'cpuset', 'cpuset.cpus'), `${options.cpus ?? '0-1'}\n`);
  await writeFile(join(root, 'cpuset', 'cpuset.mems'), `${options.mems ?? '0'}\n`);
  await mkdir(join(root, 'unified'));
  for (const [file, content] of Object.entries({ ...V2_FILES.core, 'cgroup.controllers': '' })) {
    if (file !== 'cgroup.events' && file !== 'cgroup.freeze' && file !== 'cgroup.kill') {
      await writeFile(join(root, 'unified', file), content);
    }
  }
  return tree.api();
}

export async function imitateCgroupV2(options: ImitationOptions = {}): Promise<ImitationCgroupTree> {
  const root = await mkdtemp(join(tmpdir(), 'skiff-cgroup-v2-'));
  const tree = new Tree(root, 2, options);
  const controllers = options.controllers ?? ['cpuset', 'cpu', 'io', 'memory', 'pids'];
  await writeFile(join(root, 'cgroup.controllers'), `${controllers.join(' ')}\n`);
  await writeFile(join(root, 'cgroup.subtree_control'), '');
  await writeFile(join(root, 'cgroup.procs'), '');
  await writeFile(join(root, 'cpu.stat'), V2_FILES.core?.['cpu.stat'] ?? '');
  await writeFile(join(root, 'cpuset.cpus.effective'), `${options.cpus ?? '0-1'}\n`);
  await writeFile(join(root, 'cpuset.mems.effective'), `${options.mems ?? '0'}\n`);
  return tree.api();
}

function errno(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

class Tree {
  readonly signals: { pid: number; signal: NodeJS.Signals }[] = [];

  constructor(
    readonly root: string,
    readonly version: 1 | 2,
    readonly options: ImitationOptions,
  ) {}

  api(): ImitationCgroupTree {
    return {
      root: this.root,
      fs: this.fs(),
      signals: this.signals,
      kill: (pid, signal) => this.kill(pid, signal),
      addProcess: async (dir, pid) => {
        const procs = join(dir, 'cgroup.procs');
        await writeFile(procs, `${await readFile(procs, 'utf8')}${pid}\n`);
      },
      setFile: (path, content) => writeFile(path, content),
      remove: () => rm(this.root, { recursive: true, force: true }),
    };
  }

  /** The control files a new cgroup at `dir` gets. */
  async populate(dir: string): Promise<void> {
    const files: Record<string, string> = {};
    if (this.version === 1) {
      const hierarchy = relative(this.root, dir).split(sep)[0] ?? '';
      if (hierarchy === 'unified') {
        Object.assign(files, V2_FILES.core, { 'cgroup.controllers': '' });
      } else {
        Object.assign(files, V1_FILES.common, V1_FILES[hierarchy] ?? {});
      }
    } else {
      const parentControllers = (await readFile(join(dir, '..', 'cgroup.subtree_control'), 'utf8'))
        .split(/\s+/)
        .filter(Boolean);
      Object.assign(files, V2_FILES.core, { 'cgroup.controllers': parentControllers.join(' ') });
      for (const controller of parentControllers) Object.assign(files, V2_FILES[controller] ?? {});
    }
    for (const file of this.options.omitFiles ?? []) delete files[file];
    const prefix = (file: string) => file.split('.')[0] ?? '';
    for (const [file, content] of Object.entries(this.options.extraFiles ?? {})) {
      if (Object.keys(files).some((f) => prefix(f) === prefix(file))) files[file] = content;
    }
    await Promise.all(Object.entries(files).map(([file, content]) => writeFile(join(dir, file), content)));
  }

  fs(): CgroupFs {
    return {
      ...nodeCgroupFs,
      mkdir: async (path) => {
        await mkdir(path);
        if (path.startsWith(this.root + sep)) await this.populate(path);
      },
      rmdir: async (path) => {
        const entries = await readdir(path, { withFileTypes: true });
        if (entries.some((e) => e.isDirectory())) throw errno('EBUSY', path);
        const procs = await readFile(join(path, 'cgroup.procs'), 'utf8').catch(() => '');
        if (procs.trim() !== '') throw errno('EBUSY', path);
        for (const entry of entries) await rm(join(path, entry.name));
        await rmdir(path);
      },
      writeFile: (path, value) => this.write(path, value),
      writeEach: async (path, values) => {
        for (const [index, value] of values.entries()) {
          await this.write(path, value).catch((error: unknown) => {
            throw new WriteEachError(index, error);
          });
        }
      },
    };
  }

  private async write(path: string, value: string): Promise<void> {
    let current: string;
    try {
      current = await readFile(path, 'utf8');
    } catch {
      throw errno('ENOENT', path);
    }
    const dir = join(path, '..');
    const file = path.slice(dir.length + 1);
    switch (file) {
      case 'cgroup.procs':
        return writeFile(path, `${current}${value.trim()}\n`);
      case 'cgroup.subtree_control': {
        const enabled = new Set(current.split(/\s+/).filter(Boolean));
        for (const change of value.split(/\s+/).filter(Boolean)) {
          const controller = change.slice(1);
          const offered = await readFile(join(dir, 'cgroup.controllers'), 'utf8').catch(() => '');
          if (!offered.split(/\s+/).includes(controller)) throw errno('ENOENT', path);
          if (change.startsWith('+')) enabled.add(controller);
          else enabled.delete(controller);
        }
        return writeFile(path, [...enabled].join(' '));
      }
      case 'cgroup.freeze': {
        const events = (await readFile(join(dir, 'cgroup.events'), 'utf8')).replace(
          /frozen \d/,
          `frozen ${value.trim()}`,
        );
        await writeFile(join(dir, 'cgroup.events'), events);
        return writeFile(path, value.trim());
      }
      case 'cgroup.kill':
        for (const pid of (await readFile(join(dir, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean)) {
          this.kill(Number(pid), 'SIGKILL');
        }
        return;
      case 'memory.limit_in_bytes': {
        const swap = await readFile(join(dir, 'memory.memsw.limit_in_bytes'), 'utf8').catch(() => undefined);
        if (swap !== undefined && v1Bytes(value) > v1Bytes(swap)) throw errno('EINVAL', path);
        return writeFile(path, value);
      }
      case 'memory.memsw.limit_in_bytes': {
        const memory = await readFile(join(dir, 'memory.limit_in_bytes'), 'utf8');
        if (v1Bytes(value) < v1Bytes(memory)) throw errno('EINVAL', path);
        return writeFile(path, value);
      }
      case 'cpuset.cpus':
        await writeFile(join(dir, 'cpuset.effective_cpus'), value);
        return writeFile(path, value);
      case 'cpuset.mems':
        await writeFile(join(dir, 'cpuset.effective_mems'), value);
        return writeFile(path, value);
      case 'devices.deny':
        if (value.trim() === 'a') await writeFile(join(dir, 'devices.list'), '');
        return writeFile(path, value);
      case 'devices.allow': {
        const list =
          value.trim() === 'a' ? 'a *:* rwm\n' : `${await readFile(join(dir, 'devices.list'), 'utf8')}${value}\n`;
        await writeFile(join(dir, 'devices.list'), list);
        return writeFile(path, value);
      }
      default:
        // Files keyed by device (`8:0 …`) keep one line per device.
        if (/^\d+:\d+ /.test(value)) {
          const device = value.split(' ')[0] ?? '';
          const lines = current.split('\n').filter((l) => l !== '' && !l.startsWith(`${device} `));
          return writeFile(path, [...lines, value].join('\n') + '\n');
        }
        return writeFile(path, value);
    }
  }

  private kill(pid: number, signal: NodeJS.Signals): void {
    this.signals.push({ pid, signal });
    if (signal !== 'SIGKILL') return;
    const visit = (dir: string): void => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) visit(path);
        else if (entry === 'cgroup.procs') {
          const left = readFileSync(path, 'utf8')
            .split('\n')
            .filter((line) => line !== '' && Number(line) !== pid);
          writeFileSync(path, left.map((line) => `${line}\n`).join(''));
        }
      }
    };
    visit(this.root);
  }
}

function v1Bytes(text: string): bigint {
  const trimmed = text.trim();
  return trimmed === '-1' || trimmed === '' ? BigInt(UNLIMITED_V1) : BigInt(trimmed);
}
