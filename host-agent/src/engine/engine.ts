import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineRouter } from '../engine-api/engine-router.js';
import { DEFAULT_ENGINE_SOCKET, EngineServer } from '../engine-api/engine-server.js';
import { registerSystemHandlers } from '../engine-api/system-handlers.js';
import { SystemInfo } from '../engine-api/system-info.js';
import { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import { SysVolumeMounter } from '../volumes/sys-volume-mounter.js';
import { VolumeStore } from '../volumes/volume-store.js';
import { fileURLToPath } from 'node:url';
import { openCgroupManager } from '../cgroups/open-cgroup-manager.js';
import { ContainerService } from '../containers/container-service.js';
import { containerSummary } from '../containers/container-views.js';
import { ExecService } from '../containers/exec-service.js';
import { HealthService } from '../containers/health-monitor.js';
import { ImageService } from '../images/image-service.js';
import { LibcSysCalls } from '../sys/libc-sys-calls.js';
import { ContainerArchive } from '../containers/container-archive.js';
import type { IdMap } from '../userns/id-map.js';
import { SystemRemapHost } from '../userns/system-remap-host.js';
import { parseRemapSpec, resolveRemap } from '../userns/userns-remap.js';
import { registerArchiveHandlers } from './archive-handlers.js';
import { registerBuildHandlers } from './build-handlers.js';
import { registerContainerHandlers } from './container-handlers.js';
import { registerExecHandlers } from './exec-handlers.js';
import { IdleMemory, setHeapGrowth } from './idle-memory.js';
import { registerImageHandlers } from './image-handlers.js';
import { registerNetworkHandlers } from './network-handlers.js';
import { registerRegistryHandlers } from './registry-handlers.js';
import { registerVolumeHandlers } from './volume-handlers.js';
import { IpNetworkHost } from '../networks/network-host.js';
import { NetworkService } from '../networks/network-service.js';

export interface EngineOptions {
  /** Every piece of state lives under it (default /var/lib/skiff). */
  root: string;
  /** The Docker Engine API socket (default /run/skiff/docker.sock), root-only. */
  socketPath?: string;
  version: string;
  logger: Logger;
  /** `--userns-remap`: `default` or `user[:group]`; containers' root becomes that user's first subordinate id. */
  usernsRemap?: string;
  /** Bridge networks: the default bridge's name and subnet, the pool of user networks, the nftables table. */
  network?: {
    bridgeName?: string;
    bridgeSubnet?: string;
    pool?: string;
    table?: string;
    dnsPort?: number;
    dnsUpstreams?: string[];
  };
}

export interface RunningEngine {
  socketPath: string;
  router: EngineRouter;
  events: EventBus;
  close(): Promise<void>;
  /** Removes the engine's bridges and firewall table (tests, uninstall); its containers must be gone. */
  removeNetworks(): Promise<void>;
}

/** The container engine of this host: its stores, and its Engine API on the local socket. */
export async function startEngine(options: EngineOptions): Promise<RunningEngine> {
  const { logger } = options;
  await mkdir(options.root, { recursive: true, mode: 0o711 });
  const { root, ids } = await engineStorage(options);
  const events = new EventBus();
  const router = new EngineRouter();
  const system = new SystemInfo({ engineVersion: options.version, rootDir: root, usernsRemap: ids !== undefined });
  registerSystemHandlers(router, { system, events, logger });

  // Images and volumes ask the containers whether they are in use; the containers need both.
  const late: { containers?: ContainerService } = {};
  const sys = new LibcSysCalls();
  const images = await ImageService.open({
    root,
    sys,
    ...(ids ? { ids } : {}),
    isImageInUse: (imageId) => late.containers?.imageUser(imageId),
  });
  registerImageHandlers(router, images, events);
  const registry = registerRegistryHandlers(router, images, events, {
    configPath: join(options.root, 'registries.json'),
  });

  const volumes = await VolumeStore.open({
    root,
    mounter: new SysVolumeMounter(sys),
    logger,
    usedBy: (name) => late.containers?.usersOfVolume(name) ?? [],
    ...(ids ? { ids } : {}),
  });
  registerVolumeHandlers(router, volumes, events);

  const shimPath = fileURLToPath(new URL('../../shim/build/skiff-shim', import.meta.url));
  const networks = await NetworkService.open({
    root,
    logger,
    host: new IpNetworkHost(),
    bridgeName: options.network?.bridgeName ?? 'skiff0',
    pool: options.network?.pool ?? '172.24.0.0/14',
    table: options.network?.table ?? 'skiff',
    ...(options.network?.bridgeSubnet ? { bridgeSubnet: options.network.bridgeSubnet } : {}),
    ...(options.network?.dnsPort ? { dnsPort: options.network.dnsPort } : {}),
    ...(options.network?.dnsUpstreams ? { dnsUpstreams: options.network.dnsUpstreams } : {}),
  });
  const cgroups = await openCgroupManager();
  for (const limitation of await cgroups.limitations()) logger.info(`cgroups: ${limitation}`);
  const containers = await ContainerService.open({
    root,
    images,
    volumes,
    cgroups,
    events,
    logger,
    shimPath,
    initPath: fileURLToPath(new URL('../../shim/build/skiff-init', import.meta.url)),
    ...(ids ? { ids } : {}),
    networks,
  });
  networks.useContainerNames((id) => containers.store.find(id)?.name);
  late.containers = containers;
  registerContainerHandlers(router, containers, images, cgroups);
  registerArchiveHandlers(router, containers, images, new ContainerArchive({ sys, ...(ids ? { ids } : {}) }));
  await registerBuildHandlers(router, {
    images,
    containers,
    events,
    sys,
    root,
    registry,
    ...(ids ? { ids } : {}),
  });
  registerNetworkHandlers(router, containers, networks, events);
  const execs = new ExecService(containers, cgroups, shimPath);
  registerExecHandlers(router, execs, containers, events);
  const health = new HealthService(containers, execs, events, logger);
  system.use({
    containers: {
      countContainers: () => {
        const all = containers.list();
        const count = (status: string) => all.filter((record) => record.state.status === status).length;
        return Promise.resolve({
          total: all.length,
          running: count('running'),
          paused: count('paused'),
          stopped: all.length - count('running') - count('paused'),
        });
      },
    },
    images: { countImages: async () => (await images.list()).length },
    diskUsage: {
      diskUsage: async () => ({
        LayersSize: (await images.diskUsage()).layersSize,
        Images: await images.list({ sharedSize: true }),
        Containers: containers.list().map((record) => containerSummary(record)),
        Volumes: (await volumes.diskUsage()).Items,
        BuildCache: [],
      }),
    },
  });

  const socketPath = options.socketPath ?? DEFAULT_ENGINE_SOCKET;
  setHeapGrowth();
  const idleMemory = new IdleMemory({ log: (message) => logger.debug(message) });
  const server = new EngineServer({
    router,
    logger,
    engineVersion: options.version,
    socketPath,
    onActivity: () => idleMemory.activity(),
  });
  await server.listen();
  // Start-up leaves garbage: the first quiet period collects it.
  idleMemory.activity();
  logger.info(`engine API on unix://${socketPath} (state in ${root})`);
  return {
    socketPath,
    router,
    events,
    close: async () => {
      health.close();
      containers.close();
      networks.close();
      idleMemory.close();
      await server.close();
      await registry.close();
    },
    removeNetworks: () => networks.teardown(),
  };
}

/**
 * Where the engine keeps its stores. With `--userns-remap` that is `<root>/<uid>.<gid>` of the
 * containers' root, as dockerd does: its layers are stored with shifted owners, so it is never
 * mixed with a store made without remapping (or with another one).
 */
async function engineStorage(options: EngineOptions): Promise<{ root: string; ids?: IdMap }> {
  if (options.usernsRemap === undefined) return { root: options.root };
  const { map, created } = await resolveRemap(parseRemapSpec(options.usernsRemap), new SystemRemapHost());
  for (const what of created) options.logger.info(`user namespaces: created ${what} for --userns-remap`);
  const root = join(options.root, `${map.root.uid}.${map.root.gid}`);
  // The containers' root mounts their overlay from inside its user namespace: it must be able
  // to pass through the state root, though not to read it.
  const { mode } = await stat(options.root);
  if ((mode & 0o001) === 0) await chmod(options.root, (mode & 0o7777) | 0o011);
  await mkdir(root, { recursive: true, mode: 0o711 });
  options.logger.info(`user namespaces: container root is host ${map.root.uid}:${map.root.gid} (${map.describe()})`);
  return { root, ids: map };
}
