import { createHash } from 'node:crypto';
import { API_VERSION, MIN_API_VERSION } from './api-version.js';
import { seccompSupported } from '../seccomp/seccomp-rules.js';
import { collectHostFacts, type HostFacts } from './host-facts.js';

/** Containers by state, as `docker info` shows them. */
export interface ContainerCounts {
  total: number;
  running: number;
  paused: number;
  stopped: number;
}

/** Plugged in by the containers module: counts for `GET /info`. */
export interface ContainerCountSource {
  countContainers(): Promise<ContainerCounts>;
}

/** Plugged in by the images module: the number of images, dangling ones included. */
export interface ImageCountSource {
  countImages(): Promise<number>;
}

/**
 * `GET /system/df` at API 1.41: each list holds items in the shape of the matching list endpoint
 * (`GET /images/json`, `GET /containers/json`, `GET /volumes`) with their sizes filled in.
 */
export interface SystemDiskUsage {
  LayersSize: number;
  Images: readonly object[];
  Containers: readonly object[];
  Volumes: readonly object[];
  BuildCache: readonly object[];
}

/** Plugged in by the engine once images, containers and volumes can measure themselves. */
export interface DiskUsageSource {
  diskUsage(): Promise<SystemDiskUsage>;
}

/** What the engine's parts contribute to `/info` and `/system/df`; a missing one counts as empty. */
export interface EngineInfoSources {
  containers?: ContainerCountSource;
  images?: ImageCountSource;
  diskUsage?: DiskUsageSource;
}

export interface SystemInfoOptions {
  /** The agent's version: `Server: Skiff/<version>`, `Version` of `/version`, `ServerVersion` of `/info`. */
  engineVersion: string;
  /** The agent's state directory: `DockerRootDir`. */
  rootDir: string;
  /** Containers run in a user namespace (`--userns-remap`): `name=userns` in SecurityOptions. */
  usernsRemap?: boolean;
  /** A stable id of this engine (`ID` of `/info`); derived from the host name and root when absent. */
  engineId?: string;
  gitCommit?: string;
  /** RFC 3339 time of the build, when known. */
  buildTime?: string;
  sources?: EngineInfoSources;
  /** Where the host's facts come from; a test passes its own. */
  hostFacts?: () => Promise<HostFacts>;
}

/** Node's names for machines, in Go's (GOARCH), which is what `/version` reports. */
const GO_ARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  ia32: '386',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
};

export function goArch(nodeArch: string = process.arch): string {
  return GO_ARCH[nodeArch] ?? nodeArch;
}

/** The answers of `GET /version`, `GET /info` and `GET /system/df`. */
export class SystemInfo {
  private readonly hostFacts: () => Promise<HostFacts>;
  private cachedFacts: Promise<HostFacts> | undefined;
  private sources: EngineInfoSources;

  constructor(private readonly options: SystemInfoOptions) {
    this.hostFacts = options.hostFacts ?? (() => collectHostFacts());
    this.sources = { ...options.sources };
  }

  /** Plugs in parts of the engine as they come up; each source named replaces the one before. */
  use(sources: EngineInfoSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  async version(): Promise<Record<string, unknown>> {
    const facts = await this.facts();
    const { engineVersion, gitCommit = 'unknown', buildTime = '' } = this.options;
    const common = {
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: gitCommit,
      // No Go here: the runtime's version stands in its place.
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: facts.kernelVersion,
      BuildTime: buildTime,
    };
    return {
      Platform: { Name: 'Skiff Engine' },
      Components: [
        {
          Name: 'Engine',
          Version: engineVersion,
          Details: { ...common, Experimental: 'false' },
        },
      ],
      Version: engineVersion,
      ...common,
    };
  }

  async info(): Promise<Record<string, unknown>> {
    const [facts, containers, images] = await Promise.all([
      this.facts(),
      this.sources.containers?.countContainers() ?? Promise.resolve(noContainers()),
      this.sources.images?.countImages() ?? Promise.resolve(0),
    ]);
    const { engineVersion, rootDir } = this.options;
    const securityOptions = [
      ...(facts.apparmor ? ['name=apparmor'] : []),
      // The kernel filters and the agent can compile Docker's default profile for this host.
      ...(facts.seccomp && seccompSupported(process.arch) ? ['name=seccomp,profile=builtin'] : []),
      ...(this.options.usernsRemap ? ['name=userns'] : []),
      ...(facts.cgroupVersion === '2' ? ['name=cgroupns'] : []),
    ];
    return {
      ID: this.options.engineId ?? defaultEngineId(facts.hostname, rootDir),
      Containers: containers.total,
      ContainersRunning: containers.running,
      ContainersPaused: containers.paused,
      ContainersStopped: containers.stopped,
      Images: images,
      Driver: 'overlay2',
      DriverStatus: [],
      DockerRootDir: rootDir,
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: facts.cgroup.memoryLimit,
      SwapLimit: facts.cgroup.swapLimit,
      KernelMemory: false,
      KernelMemoryTCP: false,
      CpuCfsPeriod: facts.cgroup.cpuCfsPeriod,
      CpuCfsQuota: facts.cgroup.cpuCfsQuota,
      CPUShares: facts.cgroup.cpuShares,
      CPUSet: facts.cgroup.cpuSet,
      PidsLimit: facts.cgroup.pidsLimit,
      OomKillDisable: facts.cgroup.oomKillDisable,
      IPv4Forwarding: facts.ipv4Forwarding,
      BridgeNfIptables: facts.bridgeNfIptables,
      BridgeNfIp6tables: facts.bridgeNfIp6tables,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: facts.cgroupVersion,
      NEventsListener: 0,
      KernelVersion: facts.kernelVersion,
      OperatingSystem: facts.operatingSystem,
      OSVersion: facts.osVersion,
      OSType: 'linux',
      Architecture: facts.machine,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        AllowNondistributableArtifactsCIDRs: [],
        AllowNondistributableArtifactsHostnames: [],
        InsecureRegistryCIDRs: ['127.0.0.0/8'],
        IndexConfigs: {},
        Mirrors: [],
      },
      NCPU: facts.cpus,
      MemTotal: facts.memoryBytes,
      GenericResources: null,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: facts.hostname,
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: engineVersion,
      Runtimes: { 'skiff-shim': { path: 'skiff-shim' } },
      DefaultRuntime: 'skiff-shim',
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: securityOptions,
      Warnings: hostWarnings(facts),
    };
  }

  async diskUsage(): Promise<SystemDiskUsage> {
    const source = this.sources.diskUsage;
    if (source) return source.diskUsage();
    return { LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [] };
  }

  /** The host's facts change only with a reboot (hostname aside): read them once. */
  private facts(): Promise<HostFacts> {
    this.cachedFacts ??= this.hostFacts().catch((error: unknown) => {
      this.cachedFacts = undefined;
      throw error;
    });
    return this.cachedFacts;
  }
}

function noContainers(): ContainerCounts {
  return { total: 0, running: 0, paused: 0, stopped: 0 };
}

/** The same sentences dockerd prints, so `docker info` reads the same on either. */
export function hostWarnings(facts: HostFacts): string[] {
  const warnings: string[] = [];
  const { cgroup } = facts;
  if (!cgroup.memoryLimit) warnings.push('WARNING: No memory limit support');
  if (!cgroup.swapLimit) warnings.push('WARNING: No swap limit support');
  if (!cgroup.cpuCfsQuota) warnings.push('WARNING: No cpu cfs quota support');
  if (!cgroup.cpuCfsPeriod) warnings.push('WARNING: No cpu cfs period support');
  if (!cgroup.cpuShares) warnings.push('WARNING: No cpu shares support');
  if (!cgroup.cpuSet) warnings.push('WARNING: No cpuset support');
  if (!facts.ipv4Forwarding) warnings.push('WARNING: IPv4 forwarding is disabled');
  if (!facts.bridgeNfIptables) warnings.push('WARNING: bridge-nf-call-iptables is disabled');
  if (!facts.bridgeNfIp6tables) warnings.push('WARNING: bridge-nf-call-ip6tables is disabled');
  return warnings;
}

/** Stable across restarts for one host and root, in the shape of dockerd's engine ids. */
function defaultEngineId(hostname: string, rootDir: string): string {
  const hex = createHash('sha256').update(`${hostname}\0${rootDir}`).digest('hex');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20, 32)].join('-');
}
