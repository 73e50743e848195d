import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { nodeCgroupFs } from './cgroup-fs.js';
import {
  parseBlkioV1,
  parseIoStat,
  parseProcStat,
  readV1Stats,
  readV2Stats,
  type StatsSources,
} from './cgroup-stats.js';

/** /proc/stat of a 2-CPU machine (ticks of 1/100 s). */
const PROC_STAT = `cpu  97621 439 49789 283538 524 0 564 2100 0 0
cpu0 47982 171 25421 142043 280 0 244 1107 0 0
cpu1 49638 268 24368 141494 244 0 320 992 0 0
intr 56571905 0 0 0
ctxt 220297382
btime 1764287880
`;
const HOST_NS = (97621 + 439 + 49789 + 283538 + 524 + 0 + 564) * 10_000_000;
const GiB = 1024 ** 3;

let base: string;
let sources: StatsSources;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'skiff-cgroup-stats-'));
  sources = { fs: nodeCgroupFs, procStat: () => Promise.resolve(PROC_STAT), machineMemory: 8 * GiB };
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function files(dir: string, contents: Record<string, string>): Promise<string> {
  const path = join(base, dir);
  await mkdir(path, { recursive: true });
  for (const [file, content] of Object.entries(contents)) await writeFile(join(path, file), content);
  return path;
}

describe(parseProcStat.name, () => {
  it('sums user, nice, system, idle, iowait, irq and softirq (not steal) into nanoseconds and counts the CPUs', () => {
    expect(parseProcStat(PROC_STAT)).toEqual({ systemCpuUsage: HOST_NS, onlineCpus: 2 });
  });
});

describe(parseBlkioV1.name, () => {
  it('reads device, operation and value, and skips the Total line', () => {
    expect(
      parseBlkioV1('8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\nTotal 12288\n'),
    ).toEqual([
      { major: 8, minor: 0, op: 'Read', value: 4096 },
      { major: 8, minor: 0, op: 'Write', value: 8192 },
      { major: 8, minor: 0, op: 'Sync', value: 0 },
      { major: 8, minor: 0, op: 'Async', value: 12288 },
      { major: 8, minor: 0, op: 'Total', value: 12288 },
    ]);
  });

  it('reads counters without an operation (time_recursive, sectors_recursive)', () => {
    expect(parseBlkioV1('254:0 1234\n')).toEqual([{ major: 254, minor: 0, op: '', value: 1234 }]);
  });
});

describe(parseIoStat.name, () => {
  it('turns rbytes and wbytes of each device into read and write entries', () => {
    expect(parseIoStat('254:0 rbytes=7593984 wbytes=100 rios=10 wios=1 dbytes=0 dios=0\n')).toEqual([
      { major: 254, minor: 0, op: 'read', value: 7593984 },
      { major: 254, minor: 0, op: 'write', value: 100 },
    ]);
  });
});

describe(readV1Stats.name, () => {
  async function v1Dirs(blkio: Record<string, string>) {
    return {
      cpu: await files('cpu', {
        'cpu.stat': 'nr_periods 120\nnr_throttled 30\nthrottled_time 4500000000\nnr_bursts 0\nburst_time 0\n',
      }),
      cpuacct: await files('cpuacct', {
        'cpuacct.usage': '2376711993195\n',
        'cpuacct.usage_percpu': '1191112476857 1185599516338 \n',
        'cpuacct.usage_user': '1717793975137\n',
        'cpuacct.usage_sys': '590300758243\n',
        'cpuacct.stat': 'user 176886\nsystem 60784\n',
      }),
      memory: await files('memory', {
        'memory.usage_in_bytes': '21004288\n',
        'memory.max_usage_in_bytes': '33554432\n',
        'memory.failcnt': '17\n',
        'memory.limit_in_bytes': '33554432\n',
        'memory.stat': 'cache 4096\nrss 20971520\ntotal_inactive_file 4096\nhierarchical_memory_limit 33554432\n',
      }),
      pids: await files('pids', { 'pids.current': '3\n', 'pids.max': '20\n' }),
      blkio: await files('blkio', blkio),
    };
  }

  it('reads the counters of each controller into the Engine API stats shape', async () => {
    const stats = await readV1Stats(
      await v1Dirs({
        'blkio.throttle.io_service_bytes_recursive': '254:0 Read 4096\n254:0 Write 0\nTotal 4096\n',
        'blkio.throttle.io_serviced_recursive': '254:0 Read 1\n254:0 Write 0\nTotal 1\n',
      }),
      sources,
    );
    expect(stats).toEqual({
      cpu_stats: {
        cpu_usage: {
          total_usage: 2376711993195,
          percpu_usage: [1191112476857, 1185599516338],
          usage_in_kernelmode: 590300758243,
          usage_in_usermode: 1717793975137,
        },
        system_cpu_usage: HOST_NS,
        online_cpus: 2,
        throttling_data: { periods: 120, throttled_periods: 30, throttled_time: 4500000000 },
      },
      memory_stats: {
        usage: 21004288,
        max_usage: 33554432,
        stats: { cache: 4096, rss: 20971520, total_inactive_file: 4096, hierarchical_memory_limit: 33554432 },
        failcnt: 17,
        limit: 33554432,
      },
      pids_stats: { current: 3, limit: 20 },
      blkio_stats: {
        io_service_bytes_recursive: [
          { major: 254, minor: 0, op: 'Read', value: 4096 },
          { major: 254, minor: 0, op: 'Write', value: 0 },
        ],
        io_serviced_recursive: [
          { major: 254, minor: 0, op: 'Read', value: 1 },
          { major: 254, minor: 0, op: 'Write', value: 0 },
        ],
        io_queue_recursive: null,
        io_service_time_recursive: null,
        io_wait_time_recursive: null,
        io_merged_recursive: null,
        io_time_recursive: null,
        sectors_recursive: null,
      },
    });
  });

  it('reports an unlimited memory limit as the machine memory, and pids.max "max" as 0', async () => {
    const dirs = await v1Dirs({});
    await writeFile(join(dirs.memory, 'memory.limit_in_bytes'), '9223372036854771712\n');
    await writeFile(join(dirs.pids, 'pids.max'), 'max\n');
    const stats = await readV1Stats(dirs, sources);
    expect(stats.memory_stats.limit).toBe(8 * GiB);
    expect(stats.pids_stats).toEqual({ current: 3, limit: 0 });
  });

  it('takes the user and system time from cpuacct.stat ticks on kernels without cpuacct.usage_user', async () => {
    const dirs = await v1Dirs({});
    await rm(join(dirs.cpuacct, 'cpuacct.usage_user'));
    await rm(join(dirs.cpuacct, 'cpuacct.usage_sys'));
    const usage = (await readV1Stats(dirs, sources)).cpu_stats.cpu_usage;
    expect(usage.usage_in_usermode).toBe(176886 * 10_000_000);
    expect(usage.usage_in_kernelmode).toBe(60784 * 10_000_000);
  });

  it("prefers the I/O scheduler's own counters when they have entries, else the throttle layer's", async () => {
    const stats = await readV1Stats(
      await v1Dirs({
        'blkio.bfq.io_service_bytes_recursive': '8:0 Read 512\n8:0 Write 1024\nTotal 1536\n',
        'blkio.bfq.io_serviced_recursive': '8:0 Read 1\n8:0 Write 2\nTotal 3\n',
        'blkio.throttle.io_service_bytes_recursive': '8:0 Read 9\nTotal 9\n',
      }),
      sources,
    );
    expect(stats.blkio_stats.io_service_bytes_recursive?.map((e) => e.value)).toEqual([512, 1024]);
    const empty = await readV1Stats(
      await v1Dirs({
        'blkio.bfq.io_service_bytes_recursive': 'Total 0\n',
        'blkio.throttle.io_service_bytes_recursive': '8:0 Read 9\nTotal 9\n',
      }),
      sources,
    );
    expect(empty.blkio_stats.io_service_bytes_recursive).toEqual([{ major: 8, minor: 0, op: 'Read', value: 9 }]);
    expect(empty.blkio_stats.io_serviced_recursive).toBeNull();
  });

  it('leaves out what a missing controller would have given, and still answers', async () => {
    const stats = await readV1Stats({}, { ...sources, procStat: () => Promise.reject(new Error('no /proc')) });
    expect(stats.memory_stats).toEqual({});
    expect(stats.pids_stats).toEqual({});
    expect(stats.cpu_stats.cpu_usage.total_usage).toBe(0);
    expect(stats.cpu_stats.system_cpu_usage).toBeUndefined();
  });
});

describe(readV2Stats.name, () => {
  it('reads cpu.stat (microseconds), memory.current/max/stat, pids and io.stat into the Engine API stats shape', async () => {
    const dir = await files('v2', {
      'cpu.stat':
        'usage_usec 2308118\nuser_usec 1717817\nsystem_usec 590300\nnr_periods 40\nnr_throttled 4\nthrottled_usec 1200\n',
      'memory.current': '7626752\n',
      'memory.max': '33554432\n',
      'memory.stat': 'anon 1572864\nfile 5115904\ninactive_file 2510848\n',
      'pids.current': '2\n',
      'pids.max': 'max\n',
      'io.stat': '254:0 rbytes=7593984 wbytes=100 rios=10 wios=1 dbytes=0 dios=0\n',
    });
    expect(await readV2Stats(dir, sources)).toEqual({
      cpu_stats: {
        cpu_usage: { total_usage: 2308118000, usage_in_kernelmode: 590300000, usage_in_usermode: 1717817000 },
        system_cpu_usage: HOST_NS,
        online_cpus: 2,
        throttling_data: { periods: 40, throttled_periods: 4, throttled_time: 1200000 },
      },
      memory_stats: {
        usage: 7626752,
        stats: { anon: 1572864, file: 5115904, inactive_file: 2510848 },
        limit: 33554432,
      },
      pids_stats: { current: 2, limit: 0 },
      blkio_stats: {
        io_service_bytes_recursive: [
          { major: 254, minor: 0, op: 'read', value: 7593984 },
          { major: 254, minor: 0, op: 'write', value: 100 },
        ],
        io_serviced_recursive: null,
        io_queue_recursive: null,
        io_service_time_recursive: null,
        io_wait_time_recursive: null,
        io_merged_recursive: null,
        io_time_recursive: null,
        sectors_recursive: null,
      },
    });
  });

  it('reports memory.max "max" as the machine memory', async () => {
    const dir = await files('v2', { 'memory.current': '0\n', 'memory.max': 'max\n' });
    expect((await readV2Stats(dir, sources)).memory_stats.limit).toBe(8 * GiB);
  });
});
