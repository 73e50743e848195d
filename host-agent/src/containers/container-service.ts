import { randomBytes } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { EventEmitter } from 'node:events';
import type { CgroupLayout } from '../cgroups/cgroup-layout.js';
import type { CgroupManager } from '../cgroups/cgroup-manager.js';
import { containerDeviceAccess } from '../cgroups/device-rules.js';
import { mergeResourceUpdate, resourcesWithCreateDefaults } from '../cgroups/docker-resources.js';
import { EngineError, conflict, invalidArgument } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { EventBus } from '../events/event-bus.js';
import type { HealthConfig } from '../images/image-config.js';
import type { ImageService } from '../images/image-service.js';
import type { Logger } from '../logger.js';
import { CAPABILITY_NAMES, type CapabilityName, capabilityNumber } from '../shim/capabilities.js';
import { dockerInit } from '../shim/docker-init.js';
import type { CgroupView } from '../shim/docker-filesystem.js';
import { type ShimAttachment, attachToShim, resizeShim } from '../shim/shim-attach.js';
import { ShimStartError, startShim } from '../shim/shim-runner.js';
import type { ShimDevice } from '../shim/shim-plan.js';
import { type ShimExitStatus, readShimExitStatus, readShimState } from '../shim/shim-state.js';
import type { VolumeStore } from '../volumes/volume-store.js';
import { imageDirectory, planMounts, readImageFile, tmpfsMounts } from './container-mounts.js';
import { generateContainerName, checkContainerName } from './container-name.js';
import { type ContainerRecord, initialState } from './container-record.js';
import { checkTransition, isRunning } from './container-state.js';
import { ContainerStore } from './container-store.js';
import { parseCreateRequest, type CreateRequest } from './create-request.js';
import { mergeHealthcheck } from './health-config.js';
import { restartAfterExit, restartOnEngineStart } from './restart-policy.js';
import { effectiveArgs, effectiveEnv, type ImageRuntimeConfig, resolveUser } from './process-config.js';
import { buildShimPlan, type ResolvedMount } from './runtime-plan.js';
import type { IdMap } from '../userns/id-map.js';
import type { NetworkService, NetworkedContainer } from '../networks/network-service.js';

export interface ContainerServiceOptions {
  root: string;
  images: ImageService;
  volumes: VolumeStore;
  cgroups: CgroupManager;
  events: EventBus;
  logger: Logger;
  /** host-agent/shim/build/skiff-shim and skiff-init. */
  shimPath: string;
  initPath: string;
  /** `--userns-remap`: every container gets a user namespace with these ids, unless `--userns=host`. */
  ids?: IdMap;
  /** Bridge networks; without it every container but `--network host` gets a private loopback only. */
  networks?: NetworkService;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface ContainerEvents {
  exit: [record: ContainerRecord];
  removed: [];
}

/** A container's directory, or what a removal renamed it to (`.deleting-<id>-<random>`). */
const CONTAINER_DIRECTORY = /^(\.deleting-)?[a-f0-9]{64}(-[a-f0-9]+)?$/;

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/** `SIGTERM`, `TERM`, `15` → the signal's name, as `docker kill --signal` and STOPSIGNAL take it. */
export function parseSignal(value: string): NodeJS.Signals {
  const upper = value.trim().toUpperCase();
  if (/^\d+$/.test(upper)) {
    const entry = Object.entries(SIGNALS).find(([, number]) => number === Number(upper));
    if (entry) return entry[0] as NodeJS.Signals;
  } else {
    const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    if (name in SIGNALS) return name as NodeJS.Signals;
  }
  throw invalidArgument(`invalid signal: ${value}`);
}

/**
 * The containers of this engine: create, start, stop, remove, and what happens when they exit.
 * Running containers are supervised by skiff-shim, so they outlive the agent; on start-up the
 * service finds them again from their shims' state.
 */
export class ContainerService {
  readonly store: ContainerStore;
  private readonly emitters = new Map<string, EventEmitter<ContainerEvents>>();
  /** Clients attached to a created container, waiting for its start (docker run attaches first). */
  private readonly pendingAttach = new Map<string, ((attachment: ShimAttachment | Error) => void)[]>();
  private readonly busy = new Map<string, Promise<unknown>>();
  private readonly cgroupView: CgroupView;
  private capabilities: Promise<CapabilityName[]> | undefined;
  /** Containers waiting out their restart back-off. */
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** The back-off before each container's last restart by its policy. */
  private readonly restartDelays = new Map<string, number>();
  /** Shims of containers started by an earlier agent process, polled for their exit. */
  private readonly shimWatches = new Set<NodeJS.Timeout>();
  private closed = false;
  /** Containers whose exit is being recorded (from the exit until the 'exit' event). */
  private readonly exiting = new Set<string>();
  /** Names of containers whose create is under way. */
  private readonly creatingNames = new Set<string>();

  private constructor(private readonly options: ContainerServiceOptions) {
    this.store = new ContainerStore(join(options.root, 'containers'));
    this.cgroupView = toCgroupView(options.cgroups.layout);
  }

  static async open(options: ContainerServiceOptions): Promise<ContainerService> {
    const service = new ContainerService(options);
    const { skipped } = await service.store.load();
    await service.repair(skipped);
    // Endpoints of containers that are gone (an agent stopped between a removal's steps).
    await options.networks?.retain(new Set(service.store.list().map((record) => record.id)));
    await service.recover();
    return service;
  }

  /** Stops every timer of this service (restarts waiting, shims watched); containers keep running. */
  close(): void {
    this.closed = true;
    for (const timer of [...this.restartTimers.values(), ...this.shimWatches]) clearTimeout(timer);
    this.restartTimers.clear();
    this.shimWatches.clear();
  }

  list(): ContainerRecord[] {
    return this.store.list();
  }

  get(reference: string): ContainerRecord {
    return this.store.get(reference);
  }

  /** Which containers (any state) use a volume; volumes in use cannot be removed. */
  usersOfVolume(name: string): string[] {
    return this.store
      .list()
      .filter((record) => record.mounts.some((mount) => mount.Type === 'volume' && mount.Name === name))
      .map((record) => record.name);
  }

  imageUser(imageId: string): { containerId: string; running: boolean } | undefined {
    const record = this.store.list().find((candidate) => candidate.imageId === imageId);
    return record ? { containerId: record.id, running: isRunning(record.state.status) } : undefined;
  }

  async create(body: unknown, name: string | undefined): Promise<{ Id: string; Warnings: string[] }> {
    const request = parseCreateRequest(body);
    // Names being created count as taken: creates run side by side and record their container last.
    const taken = (candidate: string) => this.store.isNameTaken(candidate) || this.creatingNames.has(candidate);
    const containerName = name ? checkContainerName(name) : generateContainerName(taken);
    if (this.store.isNameTaken(containerName)) {
      const holder = this.store.get(containerName);
      throw conflict(
        `the container name "/${containerName}" is already in use by container ${holder.id}: remove or rename that container to reuse the name`,
      );
    }
    if (this.creatingNames.has(containerName)) {
      throw conflict(`the container name "/${containerName}" is already in use by a container being created`);
    }
    this.creatingNames.add(containerName);
    try {
      return await this.createNamed(request, containerName);
    } finally {
      this.creatingNames.delete(containerName);
    }
  }

  private async createNamed(
    request: ReturnType<typeof parseCreateRequest>,
    containerName: string,
  ): Promise<{ Id: string; Warnings: string[] }> {
    checkUserNamespace(request, this.options.ids !== undefined);
    const image = this.options.images.resolve(request.image);
    const imageConfig = (image.config.config ?? {}) as ImageRuntimeConfig & {
      Healthcheck?: HealthConfig;
      Shell?: string[];
    };
    const resources = resourcesWithCreateDefaults(request.host.resources);
    const warnings = await this.options.cgroups.check(resources);
    const id = randomBytes(32).toString('hex');
    const args = effectiveArgs(request, imageConfig);
    const hostname = request.hostname || id.slice(0, 12);
    const labels = { ...(imageConfig.Labels ?? {}), ...request.labels };

    const plan = await this.options.images.rootfsPlan(id, image);
    const mounts = await planMounts(request, Object.keys(imageConfig.Volumes ?? {}), {
      volumes: this.options.volumes,
      mountsOf: (reference) => this.store.get(reference).mounts,
    });
    const record: ContainerRecord = {
      id,
      name: containerName,
      created: new Date().toISOString(),
      imageId: image.id,
      imageName: request.image,
      request: { ...request, user: request.user || imageConfig.User || '', host: { ...request.host, resources } },
      path: args[0],
      args: args.slice(1),
      env: effectiveEnv(request.env, imageConfig, hostname, request.tty),
      workingDir: request.workingDir || imageConfig.WorkingDir || '/',
      hostname,
      stopSignal: request.stopSignal ?? imageConfig.StopSignal ?? 'SIGTERM',
      stopTimeout: request.stopTimeout ?? 10,
      labels,
      rootfs: {
        lowerDirs: plan.rootfs.lowerDirs,
        upperDir: plan.rootfs.upperDir,
        workDir: plan.rootfs.workDir,
        mountTarget: plan.rootfs.target,
      },
      mounts: mounts.points,
      state: initialState(),
    };
    const healthcheck = mergeHealthcheck(request.healthcheck, imageConfig.Healthcheck);
    if (healthcheck) record.healthcheck = healthcheck;
    if (imageConfig.Shell?.length) record.shell = imageConfig.Shell;
    let registered = false;
    try {
      parseSignal(record.stopSignal);
      await this.options.networks?.register(
        { id, name: containerName, networkMode: request.host.networkMode, endpoints: request.endpoints ?? {} },
        (reference) => this.store.find(reference),
      );
      registered = true;
      await this.options.images.snapshotter.prepare(plan);
      // A --rm container does not outlive a restart of its host (it is not running then, so it is
      // removed), so its record needs no fsync: a crash leaves a whole record or an unfinished
      // create, which the next start clears away.
      await this.store.add(record, { durable: !request.host.autoRemove });
    } catch (error) {
      if (registered) await this.options.networks?.forget(id).catch(() => undefined);
      await this.options.images.snapshotter.remove(id).catch(() => undefined);
      for (const volume of mounts.created)
        await this.options.volumes.remove(volume, { force: true }).catch(() => undefined);
      throw error;
    }
    this.publish(record, 'create');
    return { Id: id, Warnings: warnings };
  }

  async start(reference: string): Promise<'ok' | 'noop'> {
    const record = this.store.get(reference);
    const outcome = await this.exclusive(record.id, async () => {
      if (checkTransition(record.state.status, 'start', record.name) === 'noop') return 'noop' as const;
      record.state.manuallyStopped = false;
      this.restartDelays.delete(record.id);
      try {
        await this.launch(record);
      } catch (error) {
        return { failed: error };
      }
      return 'ok' as const;
    });
    if (typeof outcome === 'object') {
      // As dockerd does: a --rm container that cannot start is removed (its client waits for that).
      if (record.request.host.autoRemove)
        await this.remove(record.id, { force: true, volumes: true }).catch(() => undefined);
      throw outcome.failed;
    }
    return outcome;
  }

  async stop(reference: string, timeoutSeconds?: number, signalName?: string): Promise<'ok' | 'noop'> {
    const record = this.store.get(reference);
    if (checkTransition(record.state.status, 'stop', record.name) === 'noop') return 'noop';
    if (await this.cancelRestart(record)) return 'ok';
    if (!isRunning(record.state.status)) return 'noop';
    record.state.manuallyStopped = true;
    const timeout = timeoutSeconds ?? record.stopTimeout;
    const exited = this.nextExit(record.id);
    if (record.state.status === 'paused') await this.options.cgroups.open(record.id).thaw();
    this.signal(record, parseSignal(signalName ?? record.stopSignal));
    const graceful = await Promise.race([exited.then(() => true), delay(Math.max(0, timeout) * 1000, false)]);
    if (!graceful) {
      this.signal(record, 'SIGKILL');
      await exited;
    }
    return 'ok';
  }

  async kill(reference: string, signalName = 'SIGKILL'): Promise<void> {
    const record = this.store.get(reference);
    checkTransition(record.state.status, 'kill', record.name);
    const signal = parseSignal(signalName);
    if (await this.cancelRestart(record)) return;
    record.state.manuallyStopped = true;
    const exited = this.nextExit(record.id);
    this.signal(record, signal);
    if (signal === 'SIGKILL') await exited;
  }

  async restart(reference: string, timeoutSeconds?: number): Promise<void> {
    const record = this.store.get(reference);
    checkTransition(record.state.status, 'restart', record.name);
    await this.stop(record.id, timeoutSeconds);
    await this.start(record.id);
  }

  async pause(reference: string): Promise<void> {
    const record = this.store.get(reference);
    checkTransition(record.state.status, 'pause', record.name);
    await this.options.cgroups.open(record.id).freeze();
    record.state.status = 'paused';
    await this.store.save(record);
    this.publish(record, 'pause');
  }

  async unpause(reference: string): Promise<void> {
    const record = this.store.get(reference);
    checkTransition(record.state.status, 'unpause', record.name);
    await this.options.cgroups.open(record.id).thaw();
    record.state.status = 'running';
    await this.store.save(record);
    this.publish(record, 'unpause');
  }

  /** `docker update`: new resource limits, applied at once to a running container and kept for the next start. */
  async update(reference: string, body: unknown): Promise<{ Warnings: string[] }> {
    const record = this.store.get(reference);
    checkTransition(record.state.status, 'update', record.name);
    const request = parseCreateRequest({ Image: record.imageName, HostConfig: body });
    const merged = mergeResourceUpdate(record.request.host.resources, request.host.resources);
    let warnings: string[] = [];
    if (isRunning(record.state.status)) warnings = await this.options.cgroups.open(record.id).update(merged);
    if (request.host.restartPolicy.name !== 'no' || (body as { RestartPolicy?: unknown } | null)?.RestartPolicy) {
      record.request.host.restartPolicy = request.host.restartPolicy;
    }
    record.request.host.resources = merged;
    await this.store.save(record);
    this.publish(record, 'update');
    return { Warnings: warnings };
  }

  async rename(reference: string, newName: string): Promise<void> {
    const record = this.store.get(reference);
    const name = checkContainerName(newName);
    if (name === record.name) throw conflict(`container ${record.name} already has the name ${name}`);
    if (this.store.isNameTaken(name)) throw conflict(`the container name "/${name}" is already in use`);
    const oldName = record.name;
    record.name = name;
    await this.store.save(record);
    this.publish(record, 'rename', { oldName: `/${oldName}` });
  }

  /** Resolves with the exit code once the condition holds; created containers count as not running. */
  async wait(
    reference: string,
    condition: WaitCondition,
    signal?: AbortSignal,
  ): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const record = this.store.get(reference);
    const emitter = this.emitter(record.id);
    const answer = () => ({
      StatusCode: record.state.exitCode,
      Error: record.state.error ? { Message: record.state.error } : null,
    });
    if (condition === 'not-running' && !isRunning(record.state.status) && !this.exiting.has(record.id)) return answer();
    await new Promise<void>((resolve) => {
      const event = condition === 'removed' ? 'removed' : 'exit';
      const done = () => {
        emitter.off(event, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      emitter.on(event, done);
      signal?.addEventListener('abort', done, { once: true });
    });
    return answer();
  }

  async remove(reference: string, { force = false, volumes = false } = {}): Promise<void> {
    const record = this.store.get(reference);
    if (force) await this.cancelRestart(record);
    // An exit being recorded finishes first: its writes must not land in a removed directory.
    if (this.exiting.has(record.id)) await this.nextExit(record.id);
    await this.exclusive(record.id, async () => {
      if (isRunning(record.state.status)) {
        if (!force) checkTransition(record.state.status, 'remove', record.name);
        record.state.manuallyStopped = true;
        if (record.state.status === 'paused') await this.options.cgroups.open(record.id).thaw();
        const exited = this.nextExit(record.id);
        this.signal(record, 'SIGKILL');
        await exited;
      } else {
        checkTransition(record.state.status, 'remove', record.name);
      }
      // Saved first: an agent killed from here on finishes the removal when it starts again. A --rm
      // container skips the fsync: after a crash of the host it is removed whatever its record says.
      record.state.status = 'removing';
      await this.store.save(record, { durable: !record.request.host.autoRemove });
      await this.options.cgroups
        .open(record.id)
        .destroy()
        .catch(() => undefined);
      await this.options.images.snapshotter.remove(record.id);
      await this.options.networks
        ?.forget(record.id)
        .catch((error: unknown) =>
          this.options.logger.warn(`container ${record.name}: releasing its networks: ${errorMessage(error)}`),
        );
      await this.store.remove(record.id);
      if (volumes) {
        for (const mount of record.mounts) {
          if (mount.Type !== 'volume' || !mount.Name || this.usersOfVolume(mount.Name).length) continue;
          const info = await this.options.volumes.inspect(mount.Name).catch(() => undefined);
          // `rm -v` removes anonymous volumes only, as Docker does.
          if (info && 'com.docker.volume.anonymous' in (info.Labels ?? {})) {
            await this.options.volumes.remove(mount.Name).catch(() => undefined);
          }
        }
      }
    });
    this.restartDelays.delete(record.id);
    this.publish(record, 'destroy');
    this.emitter(record.id).emit('removed');
    this.emitters.delete(record.id);
  }

  /**
   * Attach: before start, the client waits for the start and is connected to the shim before pid 1
   * runs; afterwards, it connects to the running shim (or gets the exit of a stopped container).
   */
  attach(reference: string, stdin: boolean): Promise<{ record: ContainerRecord; attachment: ShimAttachment }> {
    const record = this.store.get(reference);
    checkTransition(record.state.status, 'attach', record.name);
    return this.connectAttach(record, stdin);
  }

  private async connectAttach(
    record: ContainerRecord,
    stdin: boolean,
  ): Promise<{ record: ContainerRecord; attachment: ShimAttachment }> {
    if (record.state.status === 'created' || (record.state.status === 'exited' && !this.busy.has(record.id))) {
      const attachment = await new Promise<ShimAttachment>((resolve, reject) => {
        const waiting = this.pendingAttach.get(record.id) ?? [];
        waiting.push((result) => (result instanceof Error ? reject(result) : resolve(result)));
        this.pendingAttach.set(record.id, waiting);
      });
      return { record, attachment };
    }
    return { record, attachment: await attachToShim(this.stateDir(record.id), { stdin }) };
  }

  async resize(reference: string, rows: number, cols: number): Promise<void> {
    const record = this.store.get(reference);
    if (!record.request.tty) return;
    if (!isRunning(record.state.status)) throw conflict(`cannot resize container ${record.name}: it is not running`);
    await resizeShim(this.stateDir(record.id), rows, cols);
  }

  async top(reference: string): Promise<number[]> {
    const record = this.store.get(reference);
    if (!isRunning(record.state.status)) throw conflict(`container ${record.name} is not running`);
    return this.options.cgroups.open(record.id).pids();
  }

  async changes(reference: string) {
    const record = this.store.get(reference);
    // Mount points the runtime itself made in the upper layer are not the container's changes
    // (Docker keeps them in a separate init layer).
    const runtimeMade = new Set(['/dev', '/proc', '/sys', ...record.mounts.map((mount) => mount.Destination)]);
    for (const mount of record.request.host.mounts) runtimeMade.add(mount.target);
    if (this.options.networks) for (const file of NETWORK_FILES) runtimeMade.add(file);
    const changes = await this.options.images.snapshotter.changes(this.snapshotPlan(record));
    const kept = changes.filter((change) => !(change.Kind === 1 && runtimeMade.has(change.Path)));
    // /etc changed only by the files the runtime put there is no change of the container's.
    const underEtc = kept.some((change) => change.Path.startsWith('/etc/'));
    return kept.filter(
      (change) => !(change.Path === '/etc' && change.Kind === 0 && !underEtc && this.options.networks),
    );
  }

  async export(reference: string): Promise<Readable> {
    const record = this.store.get(reference);
    return this.options.images.snapshotter.exportTar(this.snapshotPlan(record));
  }

  logPath(record: ContainerRecord): string {
    return join(this.store.directory(record.id), `${record.id}-json.log`);
  }

  stateDir(id: string): string {
    return join(this.store.directory(id), 'shim');
  }

  // ---- running ---------------------------------------------------------------------------------

  private async launch(record: ContainerRecord): Promise<void> {
    const { request } = record;
    const stateDir = this.stateDir(record.id);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const devices = await Promise.all(
      request.host.devices.map((device) => hostDevice(device.pathOnHost, device.pathInContainer)),
    );
    const createCgroup = () =>
      this.options.cgroups.create(record.id, request.host.resources, {
        devices: containerDeviceAccess({
          privileged: request.host.privileged,
          devices: devices.map((device) => ({ type: device.type, major: device.major, minor: device.minor })),
        }),
      });
    const { cgroup } = await createCgroup().catch(async (error: unknown) => {
      // A cgroup left by an agent killed in the middle of a start: it goes, and a fresh one is made.
      if (!(error instanceof EngineError && error.kind === 'conflict')) throw error;
      await this.options.cgroups.open(record.id).destroy();
      return createCgroup();
    });
    const mounted: string[] = [];
    try {
      const mounts: ResolvedMount[] = [...tmpfsMounts(request)];
      for (const point of record.mounts) {
        if (point.Type === 'volume' && point.Name) {
          const source = await this.options.volumes.mountFor(point.Name, record.id);
          mounted.push(point.Name);
          if (point.Mode !== 'nocopy') {
            const content = await imageDirectory(record.rootfs.lowerDirs, point.Destination);
            if (content) await this.options.volumes.populateFromImage(point.Name, content);
          }
          mounts.push({ kind: 'bind', source, target: point.Destination, readOnly: !point.RW });
        } else if (point.Type === 'bind') {
          mounts.push({
            kind: 'bind',
            source: point.Source,
            target: point.Destination,
            readOnly: !point.RW,
            propagation: point.Propagation,
          });
        }
      }
      const user = resolveUser(
        request.user,
        await readImageFile(record.rootfs.lowerDirs, 'etc/passwd'),
        await readImageFile(record.rootfs.lowerDirs, 'etc/group'),
        request.host.groupAdd,
      );
      const network = await this.prepareNetwork(record);
      for (const file of network?.mounts ?? []) {
        if (!mounts.some((mount) => mount.target === file.target)) {
          mounts.push({ kind: 'bind', source: file.source, target: file.target, readOnly: false });
        }
      }
      let args = [record.path, ...record.args];
      const plan = buildShimPlan({
        availableCapabilities: await this.agentCapabilities(),
        request,
        hostname: record.hostname,
        args,
        env: record.env,
        cwd: record.workingDir,
        user,
        rootfs: {
          kind: 'overlay',
          target: record.rootfs.mountTarget,
          lowerDirs: record.rootfs.lowerDirs,
          upperDir: record.rootfs.upperDir,
          workDir: record.rootfs.workDir,
        },
        mounts,
        devices,
        cgroup: cgroup.shimCgroup(),
        cgroupView: this.cgroupView,
        stateDir,
        logPath: this.logPath(record),
        ...(this.options.ids && request.host.usernsMode !== 'host' ? { ids: this.options.ids } : {}),
        ...(network?.joinNamespace ? { joinNetwork: network.joinNamespace } : {}),
        networksManaged: this.options.networks !== undefined,
      });
      if (request.host.init) {
        const init = dockerInit(this.options.initPath, args);
        args = init.args;
        plan.args = args;
        plan.mounts.push(init.mount);
      }
      const waiting = this.pendingAttach.get(record.id) ?? [];
      this.pendingAttach.delete(record.id);
      plan.attach = {
        // Held before execve while the agent wires its network (and for attach clients, as before).
        holdUntilStart: waiting.length > 0 || network?.wire === true,
        stdinOnce: request.stdinOnce && request.openStdin && !request.tty,
      };
      if (request.openStdin) plan.stdio = { ...plan.stdio, stdin: { kind: 'attach' } };
      if (request.tty) {
        const [rows, cols] = request.host.consoleSize ?? [0, 0];
        plan.terminal = { rows, cols };
      }
      const started = await startShim({ plan, shimPath: this.options.shimPath }).catch((error: unknown) => {
        for (const resolve of waiting) resolve(startFailure(error));
        throw startFailure(error);
      });
      if (network?.wire) {
        try {
          await this.options.networks!.wire(this.networked(record), started.pid);
          if (waiting.length === 0) {
            const release = await attachToShim(stateDir, { stdin: false });
            release.start();
            release.detach();
          }
        } catch (error) {
          this.signal({ ...record, state: { ...record.state, pid: started.pid } }, 'SIGKILL');
          await started.exited.catch(() => undefined);
          await this.options.networks!.release(record.id).catch(() => undefined);
          for (const resolve of waiting) resolve(startFailure(error));
          throw startFailure(error);
        }
      }
      record.state = {
        ...record.state,
        status: 'running',
        pid: started.pid,
        shimPid: started.shimPid,
        startedAt: new Date().toISOString(),
        finishedAt: null,
        exitCode: 0,
        oomKilled: false,
        error: '',
      };
      // Running cannot outlive the host: atomic (an agent killed now finds it), without an fsync.
      await this.store.save(record, { durable: false });
      this.publish(record, 'start');
      void started.exited
        .then(
          (status) => this.onExit(record.id, status),
          (error: unknown) => this.onExit(record.id, undefined, errorMessage(error)),
        )
        .catch((error: unknown) =>
          this.options.logger.error(`container ${record.name}: handling its exit failed: ${errorMessage(error)}`),
        );
      if (waiting.length > 0) {
        const attachments = await Promise.all(
          waiting.map(() =>
            attachToShim(stateDir, { stdin: request.openStdin }).catch((error: unknown) =>
              error instanceof Error ? error : new Error(String(error)),
            ),
          ),
        );
        attachments.forEach((attachment, index) => waiting[index](attachment));
        const first = attachments.find((attachment): attachment is ShimAttachment => !(attachment instanceof Error));
        if (first) first.start();
      }
    } catch (error) {
      for (const name of mounted) await this.options.volumes.unmountFor(name, record.id).catch(() => undefined);
      await this.options.networks?.release(record.id).catch(() => undefined);
      await cgroup.destroy().catch(() => undefined);
      record.state.error = error instanceof Error ? error.message : String(error);
      record.state.exitCode = error instanceof EngineError && error.kind === 'invalid-argument' ? 127 : 128;
      await this.store.save(record);
      throw error;
    }
  }

  private async prepareNetwork(record: ContainerRecord) {
    const networks = this.options.networks;
    if (!networks) return undefined;
    return networks.prepare(this.networked(record), (reference) => {
      const other = this.store.find(reference);
      return other && isRunning(other.state.status) && other.state.pid
        ? { pid: other.state.pid, directory: this.store.directory(other.id) }
        : undefined;
    });
  }

  private networked(record: ContainerRecord): NetworkedContainer {
    const { host } = record.request;
    return {
      id: record.id,
      name: record.name,
      hostname: record.hostname,
      domainname: record.request.domainname,
      networkMode: host.networkMode,
      dns: host.dns ?? [],
      dnsSearch: host.dnsSearch ?? [],
      dnsOptions: host.dnsOptions ?? [],
      extraHosts: host.extraHosts ?? [],
      publish: host.publish ?? [],
      directory: this.store.directory(record.id),
    };
  }

  /** The networks a container is on, by name and id (`docker ps --filter network=`). */
  networksOf(record: ContainerRecord): { names: string[]; ids: string[] } {
    const networks = this.options.networks;
    if (!networks) return { names: [record.request.host.networkMode], ids: [] };
    return networks.membership(record.id, record.request.host.networkMode);
  }

  /** `NetworkSettings` for inspect, and `Ports` for ps. */
  networkView(record: ContainerRecord) {
    const networks = this.options.networks;
    if (!networks) return undefined;
    const running = isRunning(record.state.status);
    return {
      settings: networks.settings({
        id: record.id,
        networkMode: record.request.host.networkMode,
        running,
        pid: record.state.pid,
      }),
      ports: running ? networks.portSummary(record.id) : [],
      names: networks.networkNames(record.id),
    };
  }

  /** What "all capabilities" means here: the agent's own bounding set (a host may withhold some, e.g. CAP_SYS_RESOURCE). */
  private async agentCapabilities(): Promise<CapabilityName[]> {
    this.capabilities ??= readFile('/proc/self/status', 'utf8').then((status) => {
      const mask = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`);
      return CAPABILITY_NAMES.filter((name) => (mask >> BigInt(capabilityNumber(name))) & 1n);
    });
    return this.capabilities;
  }

  private async onExit(id: string, status: ShimExitStatus | undefined, failure?: string): Promise<void> {
    // Once closed, the next agent process (or engine) owns the container and sees its exit.
    if (this.closed) return;
    const record = this.store.find(id);
    if (!record) return;
    this.exiting.add(id);
    try {
      await this.recordExit(record, status, failure);
    } finally {
      // Whatever happened, waiters (wait, stop, rm) go on.
      this.exiting.delete(id);
      this.emitter(id).emit('exit', record);
    }
    if (this.restartTimers.has(id)) return;
    if (record.request.host.autoRemove) {
      await this.remove(id, { force: true, volumes: true }).catch((error: unknown) =>
        this.options.logger.warn(`container ${record.name}: automatic removal failed: ${errorMessage(error)}`),
      );
    }
  }

  /** The exit's facts, its cgroup and volume mounts released, the restart policy applied. */
  private async recordExit(
    record: ContainerRecord,
    status: ShimExitStatus | undefined,
    failure?: string,
  ): Promise<void> {
    const id = record.id;
    const cgroup = this.options.cgroups.open(id);
    const oomKilled = status?.oomKilled || (await cgroup.oomKilled().catch(() => false));
    record.state = {
      ...record.state,
      status: 'exited',
      exitCode: status?.exitCode ?? 128,
      oomKilled,
      finishedAt: status?.finishedAt ?? new Date().toISOString(),
      error: status?.startError ?? failure ?? '',
      pid: 0,
    };
    const { restart, delayMs } = restartAfterExit({
      policy: record.request.host.restartPolicy,
      exitCode: record.state.exitCode,
      manuallyStopped: record.state.manuallyStopped === true,
      restartCount: record.state.restartCount,
      ranForMs: Date.parse(record.state.finishedAt ?? '') - Date.parse(record.state.startedAt ?? ''),
      previousDelayMs: this.restartDelays.get(id) ?? 0,
    });
    if (restart) {
      record.state.status = 'restarting';
      record.state.restartCount += 1;
      this.restartDelays.set(id, delayMs);
    }
    await cgroup
      .destroy()
      .catch((error: unknown) =>
        this.options.logger.warn(`container ${record.name}: removing its cgroup: ${errorMessage(error)}`),
      );
    for (const mount of record.mounts) {
      if (mount.Type === 'volume' && mount.Name)
        await this.options.volumes.unmountFor(mount.Name, id).catch(() => undefined);
    }
    await this.options.networks
      ?.release(id)
      .catch((error: unknown) =>
        this.options.logger.warn(`container ${record.name}: releasing its addresses: ${errorMessage(error)}`),
      );
    // A --rm container is marked for removal at once (durably); an agent killed before that finds
    // it running, sees its exit in the shim's state, and removes it then.
    if (restart || !record.request.host.autoRemove) await this.store.save(record);
    if (oomKilled) this.publish(record, 'oom');
    this.publish(record, 'die', { exitCode: String(record.state.exitCode) });
    if (restart) this.scheduleRestart(id, delayMs);
  }

  /**
   * After an agent was killed: what a create or rm it was making is rolled back or finished.
   * Directories without a complete record (a create cut short, or a removal's leftovers) go, with
   * any mount left under them and their cgroups; containers caught being removed are removed.
   */
  private async repair(incomplete: string[]): Promise<void> {
    const root = join(this.options.root, 'containers');
    const leftovers = incomplete.filter((name) => CONTAINER_DIRECTORY.test(name));
    for (const name of leftovers) {
      await this.detachMountsUnder(join(root, name));
      const id = /[a-f0-9]{64}/.exec(name)?.[0];
      if (id && !this.store.find(id))
        await this.options.cgroups
          .open(id)
          .destroy()
          .catch(() => undefined);
      await rm(join(root, name), { recursive: true, force: true });
      this.options.logger.warn(`containers: removed ${name}, left incomplete by an agent that stopped mid-way`);
    }
    for (const record of this.store.list()) {
      if (record.state.status !== 'removing') continue;
      await this.detachMountsUnder(this.store.directory(record.id));
      await this.options.cgroups
        .open(record.id)
        .destroy()
        .catch(() => undefined);
      await this.options.images.snapshotter.remove(record.id);
      await this.store.remove(record.id);
      this.options.logger.warn(`container ${record.name}: finished its removal, cut short when the agent stopped`);
    }
  }

  /** Detaches mounts the agent made under a directory (deepest first), so it can be deleted. */
  private async detachMountsUnder(directory: string): Promise<void> {
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
    const targets = mountinfo
      .split('\n')
      .map((line) => line.split(' ')[4])
      .filter((target): target is string => target !== undefined && target.startsWith(`${directory}/`))
      .sort((a, b) => b.length - a.length);
    for (const target of targets) {
      try {
        this.options.images.snapshotter.detach(target);
      } catch (error) {
        this.options.logger.warn(`cannot detach ${target}: ${errorMessage(error)}`);
      }
    }
  }

  /**
   * After an agent restart: containers whose shims still run are watched again; others get their
   * exit (and their restart policy). Those waiting to restart, and stopped ones whose policy says
   * so when the engine starts, start again.
   */
  private async recover(): Promise<void> {
    for (const record of this.store.list()) {
      const stateDir = this.stateDir(record.id);
      // A start (by hand or by the policy) cut short after its shim started: running after all.
      if (!isRunning(record.state.status) || record.state.status === 'restarting') {
        if (await this.adoptRunningShim(record, stateDir)) continue;
      }
      if (record.state.status === 'restarting') {
        this.scheduleRestart(record.id, 0);
        continue;
      }
      const restartNow =
        record.state.status === 'exited' &&
        record.state.startedAt !== null &&
        restartOnEngineStart({
          policy: record.request.host.restartPolicy,
          exitCode: record.state.exitCode,
          manuallyStopped: record.state.manuallyStopped === true,
          restartCount: record.state.restartCount,
        });
      if (restartNow) {
        record.state.status = 'restarting';
        await this.store.save(record);
        this.scheduleRestart(record.id, 0);
        continue;
      }
      if (!isRunning(record.state.status)) {
        // A cgroup left by a start cut short before its shim ran.
        const cgroup = this.options.cgroups.open(record.id);
        if (await cgroup.exists().catch(() => false)) await cgroup.destroy().catch(() => undefined);
        continue;
      }
      const exit = await readShimExitStatus(stateDir);
      if (exit) {
        await this.onExit(record.id, exit);
        continue;
      }
      const state = await readShimState(stateDir);
      if (!state || !(await isShimOf(state.shimPid, stateDir))) {
        await this.onExit(record.id, undefined, 'the container was lost while the agent was down');
        continue;
      }
      this.watchShim(record.id, state.shimPid, stateDir);
    }
  }

  /**
   * A container not recorded as running whose shim runs: the agent was killed between starting
   * the shim and saving the start. It is running after all, and watched from now on.
   */
  private async adoptRunningShim(record: ContainerRecord, stateDir: string): Promise<boolean> {
    const state = await readShimState(stateDir);
    if (state && !(await readShimExitStatus(stateDir)) && (await isShimOf(state.shimPid, stateDir))) {
      record.state = {
        ...record.state,
        status: 'running',
        pid: state.pid,
        shimPid: state.shimPid,
        startedAt: state.startedAt,
        finishedAt: null,
        exitCode: 0,
        error: '',
      };
      await this.store.save(record);
      this.options.logger.warn(`container ${record.name}: found running, its start cut short by the agent stopping`);
      await this.finishHeldStart(record, stateDir, state.pid);
      this.watchShim(record.id, state.shimPid, stateDir);
      return true;
    }
    return false;
  }

  /**
   * A pid 1 still held before execve (the agent stopped while it wired the network or before its
   * attach client came): its network is wired (again) and it goes on.
   */
  private async finishHeldStart(record: ContainerRecord, stateDir: string, pid: number): Promise<void> {
    const attachment = await attachToShim(stateDir, { stdin: false }).catch(() => undefined);
    if (!attachment) return;
    try {
      if (attachment.hello.running) return;
      const networked = this.networked(record);
      const mode = networked.networkMode;
      if (this.options.networks && mode !== 'host' && mode !== 'none' && !mode.startsWith('container:')) {
        await this.options.networks.wire(networked, pid);
      }
      attachment.start();
    } catch (error) {
      this.options.logger.warn(`container ${record.name}: cannot finish its start: ${errorMessage(error)}`);
      this.signal(record, 'SIGKILL');
    } finally {
      attachment.detach();
    }
  }

  /** A shim this agent process did not start: polled until it leaves its exit status. */
  private watchShim(id: string, shimPid: number, stateDir: string): void {
    const timer = setInterval(() => {
      if (alive(shimPid)) return;
      clearInterval(timer);
      this.shimWatches.delete(timer);
      void readShimExitStatus(stateDir)
        .then((status) => this.onExit(id, status))
        .catch((error: unknown) =>
          this.options.logger.error(`container ${id}: handling its exit failed: ${errorMessage(error)}`),
        );
    }, 500);
    timer.unref();
    this.shimWatches.add(timer);
  }

  /** Starts a container again by its restart policy after `delayMs` (state `restarting` meanwhile). */
  private scheduleRestart(id: string, delayMs: number): void {
    clearTimeout(this.restartTimers.get(id));
    const timer = setTimeout(() => {
      this.restartTimers.delete(id);
      void this.exclusive(id, async () => {
        const record = this.store.find(id);
        if (!record || record.state.status !== 'restarting' || this.closed) return;
        try {
          await this.launch(record);
        } catch (error) {
          // As Docker does: a restart that cannot start leaves the container stopped, with the reason.
          record.state.status = 'exited';
          record.state.error = errorMessage(error);
          await this.store.save(record);
          this.options.logger.warn(`container ${record.name}: restart by its policy failed: ${errorMessage(error)}`);
          this.emitter(id).emit('exit', record);
        }
      }).catch((error: unknown) =>
        this.options.logger.error(`container ${id}: restarting it failed: ${errorMessage(error)}`),
      );
    }, delayMs);
    timer.unref();
    this.restartTimers.set(id, timer);
  }

  /** A container waiting to restart stops waiting and counts as exited; false if it was not waiting. */
  private async cancelRestart(record: ContainerRecord): Promise<boolean> {
    if (record.state.status !== 'restarting') return false;
    return this.exclusive(record.id, async () => {
      if (record.state.status !== 'restarting') return false;
      clearTimeout(this.restartTimers.get(record.id));
      this.restartTimers.delete(record.id);
      record.state.status = 'exited';
      record.state.manuallyStopped = true;
      await this.store.save(record);
      this.emitter(record.id).emit('exit', record);
      return true;
    });
  }

  private signal(record: ContainerRecord, signal: NodeJS.Signals): void {
    if (!record.state.pid) return;
    try {
      process.kill(record.state.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  private nextExit(id: string): Promise<void> {
    return new Promise((resolve) => this.emitter(id).once('exit', () => resolve()));
  }

  private emitter(id: string): EventEmitter<ContainerEvents> {
    let emitter = this.emitters.get(id);
    if (!emitter) {
      emitter = new EventEmitter<ContainerEvents>();
      emitter.setMaxListeners(0);
      this.emitters.set(id, emitter);
    }
    return emitter;
  }

  /** One start, stop or remove at a time per container. */
  private async exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.busy.get(id) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(work);
    this.busy.set(id, current);
    try {
      return await current;
    } finally {
      if (this.busy.get(id) === current) this.busy.delete(id);
    }
  }

  private snapshotPlan(record: ContainerRecord) {
    return {
      containerId: record.id,
      rootfs: {
        kind: 'overlay' as const,
        target: record.rootfs.mountTarget,
        lowerDirs: record.rootfs.lowerDirs,
        upperDir: record.rootfs.upperDir,
        workDir: record.rootfs.workDir,
      },
      mountOptions: '',
      directories: [],
    };
  }

  private publish(record: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.options.events.publish({
      type: 'container',
      action,
      id: record.id,
      attributes: { ...record.labels, image: record.imageName, name: record.name, ...extra },
    });
  }
}

function startFailure(error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  if (error instanceof ShimStartError) {
    // The docker CLI turns these two wordings into exit codes 127 and 126, as a shell would.
    if (error.step === 'exec' && error.code === 'ENOENT') {
      return invalidArgument(
        `failed to start the container: exec: "${error.path}": executable file not found in $PATH`,
      );
    }
    if (error.step === 'exec' && error.code === 'EACCES') {
      return invalidArgument(`failed to start the container: exec: "${error.path}": permission denied`);
    }
    return new EngineError(error.kind, `failed to start the container: ${error.message}`);
  }
  return new EngineError('internal', `failed to start the container: ${errorMessage(error)}`);
}

async function hostDevice(pathOnHost: string, pathInContainer: string): Promise<ShimDevice> {
  const info = await stat(pathOnHost).catch(() => undefined);
  if (!info || (!info.isCharacterDevice() && !info.isBlockDevice())) {
    throw invalidArgument(
      `error gathering device information while adding custom device "${pathOnHost}": not a device node`,
    );
  }
  const rdev = info.rdev;
  return {
    path: pathInContainer,
    type: info.isBlockDevice() ? 'b' : 'c',
    major: Math.floor(rdev / 256) & 0xfff,
    minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    fileMode: info.mode & 0o777,
    uid: 0,
    gid: 0,
  };
}

function toCgroupView(layout: CgroupLayout): CgroupView {
  if (layout.version === 2) return { version: 2 };
  return {
    version: 1,
    hierarchies: layout.hierarchies.map((hierarchy) => ({
      name: basename(hierarchy.dir),
      options: hierarchy.name ? `name=${hierarchy.name}` : hierarchy.controllers.join(','),
    })),
  };
}

const NETWORK_FILES = ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname'];

/** Whether `pid` is the skiff-shim of this state directory (and not a process that reused its pid). */
async function isShimOf(pid: number, stateDir: string): Promise<boolean> {
  if (!pid || !alive(pid)) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').some((argument) => argument.startsWith(`${stateDir}/`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}

/**
 * With `--userns-remap`, what needs the host's own namespaces or all of root's power runs only
 * with `--userns=host`, as with dockerd.
 */
function checkUserNamespace(request: CreateRequest, remapped: boolean): void {
  if (!remapped || request.host.usernsMode === 'host') return;
  const needsHost = request.host.privileged
    ? '--privileged'
    : request.host.networkMode === 'host'
      ? '--network host'
      : undefined;
  if (needsHost) {
    throw invalidArgument(
      `${needsHost} cannot run in the user namespace this engine gives containers (--userns-remap): add --userns=host`,
    );
  }
}
