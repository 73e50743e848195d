import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectHostFacts, type HostFacts } from './host-facts.js';
import { SystemInfo, goArch, hostWarnings } from './system-info.js';

const FACTS: HostFacts = {
  hostname: 'node-7',
  kernelVersion: '6.18.0',
  operatingSystem: 'Debian GNU/Linux 12 (bookworm)',
  osVersion: '12',
  machine: 'x86_64',
  cpus: 4,
  memoryBytes: 8 * 1024 ** 3,
  cgroupVersion: '2',
  cgroup: {
    memoryLimit: true,
    swapLimit: true,
    cpuCfsPeriod: true,
    cpuCfsQuota: true,
    cpuShares: true,
    cpuSet: true,
    pidsLimit: true,
    oomKillDisable: false,
  },
  ipv4Forwarding: true,
  bridgeNfIptables: true,
  bridgeNfIp6tables: true,
  seccomp: true,
  apparmor: false,
};

const system = (extra: Partial<ConstructorParameters<typeof SystemInfo>[0]> = {}) =>
  new SystemInfo({
    engineVersion: '0.3.0',
    rootDir: '/var/lib/skiff',
    hostFacts: () => Promise.resolve(FACTS),
    ...extra,
  });

describe(SystemInfo.name, () => {
  it('reports the version, API range and platform in /version', async () => {
    const version = await system({ gitCommit: 'abc1234' }).version();

    expect(version).toMatchObject({
      Platform: { Name: 'Skiff Engine' },
      Version: '0.3.0',
      ApiVersion: '1.41',
      MinAPIVersion: '1.24',
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: '6.18.0',
      GitCommit: 'abc1234',
    });
    expect(version['Components']).toEqual([
      expect.objectContaining({
        Name: 'Engine',
        Version: '0.3.0',
        Details: expect.objectContaining({ ApiVersion: '1.41' }),
      }),
    ]);
  });

  it('describes the host and the storage in /info', async () => {
    const info = await system().info();

    expect(info).toMatchObject({
      Name: 'node-7',
      KernelVersion: '6.18.0',
      OperatingSystem: 'Debian GNU/Linux 12 (bookworm)',
      OSVersion: '12',
      OSType: 'linux',
      Architecture: 'x86_64',
      NCPU: 4,
      MemTotal: 8 * 1024 ** 3,
      Driver: 'overlay2',
      DockerRootDir: '/var/lib/skiff',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: '2',
      ServerVersion: '0.3.0',
      MemoryLimit: true,
      PidsLimit: true,
      SecurityOptions: ['name=seccomp,profile=builtin', 'name=cgroupns'],
      Warnings: [],
    });
  });

  it('counts nothing until the engine plugs its parts in', async () => {
    expect(await system().info()).toMatchObject({ Containers: 0, ContainersRunning: 0, Images: 0 });
    expect(await system().diskUsage()).toEqual({
      LayersSize: 0,
      Images: [],
      Containers: [],
      Volumes: [],
      BuildCache: [],
    });
  });

  it('takes counts and disk usage from the plugged sources', async () => {
    const info = system();
    info.use({
      containers: { countContainers: () => Promise.resolve({ total: 5, running: 2, paused: 1, stopped: 2 }) },
      images: { countImages: () => Promise.resolve(7) },
    });
    info.use({
      diskUsage: {
        diskUsage: () =>
          Promise.resolve({
            LayersSize: 42,
            Images: [{ Id: 'sha256:a' }],
            Containers: [],
            Volumes: [],
            BuildCache: [],
          }),
      },
    });

    expect(await info.info()).toMatchObject({
      Containers: 5,
      ContainersRunning: 2,
      ContainersPaused: 1,
      ContainersStopped: 2,
      Images: 7,
    });
    expect((await info.diskUsage()).LayersSize).toBe(42);
  });

  it('keeps the same engine id for one host and root', async () => {
    const first = (await system().info())['ID'];

    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await system().info())['ID']).toBe(first);
    expect((await system({ rootDir: '/srv/skiff' }).info())['ID']).not.toBe(first);
    expect((await system({ engineId: 'given' }).info())['ID']).toBe('given');
  });
});

describe(hostWarnings.name, () => {
  it('warns as dockerd does about every missing limit', () => {
    const warnings = hostWarnings({
      ...FACTS,
      cgroup: { ...FACTS.cgroup, swapLimit: false, cpuCfsQuota: false },
      ipv4Forwarding: false,
    });

    expect(warnings).toEqual([
      'WARNING: No swap limit support',
      'WARNING: No cpu cfs quota support',
      'WARNING: IPv4 forwarding is disabled',
    ]);
  });
});

describe(goArch.name, () => {
  it('names machines as Go does', () => {
    expect(goArch('x64')).toBe('amd64');
    expect(goArch('arm64')).toBe('arm64');
    expect(goArch('ia32')).toBe('386');
  });
});

describe(collectHostFacts.name, () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function write(path: string, text: string) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }

  function sources() {
    return {
      osReleaseFiles: [join(root, 'etc/os-release'), join(root, 'usr/lib/os-release')],
      cgroupRoot: join(root, 'cgroup'),
      procRoot: join(root, 'proc'),
      apparmorFile: join(root, 'apparmor'),
    };
  }

  it('reads the OS, the v1 controllers and the kernel switches', async () => {
    root = mkdtempSync(join(tmpdir(), 'host-facts-'));
    write('usr/lib/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\n');
    write('cgroup/memory/memory.limit_in_bytes', '');
    write('cgroup/memory/memory.oom_control', '');
    write('cgroup/cpu/cpu.shares', '');
    write('cgroup/cpu/cpu.cfs_period_us', '');
    write('cgroup/cpu/cpu.cfs_quota_us', '');
    write('cgroup/pids/cgroup.procs', '');
    write('proc/sys/net/ipv4/ip_forward', '1\n');
    write('proc/self/status', 'Name:\tnode\nSeccomp:\t0\n');
    write('apparmor', 'Y\n');

    const facts = await collectHostFacts(sources());

    expect(facts).toMatchObject({
      operatingSystem: 'Debian GNU/Linux 12 (bookworm)',
      osVersion: '12',
      cgroupVersion: '1',
      cgroup: {
        memoryLimit: true,
        swapLimit: false,
        cpuCfsPeriod: true,
        cpuCfsQuota: true,
        cpuShares: true,
        cpuSet: false,
        pidsLimit: true,
        oomKillDisable: true,
      },
      ipv4Forwarding: true,
      bridgeNfIptables: false,
      seccomp: true,
      apparmor: true,
    });
  });

  it('reads the v2 controllers from the root', async () => {
    root = mkdtempSync(join(tmpdir(), 'host-facts-'));
    write('cgroup/cgroup.controllers', 'cpuset cpu io memory pids\n');

    const facts = await collectHostFacts(sources());

    expect(facts.cgroupVersion).toBe('2');
    expect(facts.cgroup).toEqual({
      memoryLimit: true,
      swapLimit: true,
      cpuCfsPeriod: true,
      cpuCfsQuota: true,
      cpuShares: true,
      cpuSet: true,
      pidsLimit: true,
      oomKillDisable: false,
    });
    expect(facts.ipv4Forwarding).toBe(false);
    expect(facts.seccomp).toBe(false);
  });
});
