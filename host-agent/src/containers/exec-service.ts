import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupManager } from '../cgroups/cgroup-manager.js';
import { invalidArgument, notFound } from '../engine-error.js';
import {
  capabilitiesInMask,
  computeCapabilities,
  processCapabilities,
  type CapabilityName,
} from '../shim/capabilities.js';
import type { ShimAttachment } from '../shim/shim-attach.js';
import { resizeShim } from '../shim/shim-attach.js';
import type { ShimExecPlan } from '../shim/shim-plan.js';
import { startExec } from '../shim/shim-runner.js';
import { readImageFile } from './container-mounts.js';
import { checkTransition } from './container-state.js';
import { parseSecurityOptions } from './create-request.js';
import { containerSeccomp } from './runtime-plan.js';
import type { ContainerService } from './container-service.js';
import { effectiveEnv, resolveUser } from './process-config.js';

export interface ExecConfig {
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  tty: boolean;
  consoleSize: [number, number] | null;
  env: string[];
  cmd: string[];
  user: string;
  workingDir: string;
  privileged: boolean;
}

export interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  stateDir: string;
}

/** `docker exec`: processes started in a running container, each supervised by its own skiff-shim. */
export class ExecService {
  private readonly execs = new Map<string, ExecRecord>();
  private agentCapabilities?: Promise<CapabilityName[]>;

  constructor(
    private readonly containers: ContainerService,
    private readonly cgroups: CgroupManager,
    private readonly shimPath: string,
  ) {}

  create(containerReference: string, body: unknown): string {
    const record = this.containers.get(containerReference);
    checkTransition(record.state.status, 'exec', record.name);
    const config = parseExecConfig(body);
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, {
      id,
      containerId: record.id,
      config,
      running: false,
      exitCode: null,
      pid: 0,
      stateDir: join(this.containers.store.directory(record.id), 'exec', id),
    });
    return id;
  }

  get(id: string): ExecRecord {
    const exec = this.execs.get(id);
    if (!exec) throw notFound(`No such exec instance: ${id}`);
    return exec;
  }

  /** Starts the process; with `attach`, it waits for start() on the returned attachment. */
  async start(id: string, detach: boolean): Promise<{ exec: ExecRecord; attachment?: ShimAttachment }> {
    const exec = this.get(id);
    if (exec.running || exec.exitCode !== null) throw invalidArgument(`exec ${id} has already been started`);
    const container = this.containers.get(exec.containerId);
    checkTransition(container.state.status, 'exec', container.name);
    const { config } = exec;
    await mkdir(exec.stateDir, { recursive: true, mode: 0o700 });
    const user = resolveUser(
      config.user || container.request.user,
      await readImageFile(container.rootfs.lowerDirs, 'etc/passwd'),
      await readImageFile(container.rootfs.lowerDirs, 'etc/group'),
      container.request.host.groupAdd,
    );
    // "All capabilities" are the agent's own, as for the container (a kernel may lack some, and
    // capset refuses one the shim does not hold).
    const available = await this.availableCapabilities();
    const containerCapabilities = computeCapabilities({
      capAdd: container.request.host.capAdd,
      capDrop: container.request.host.capDrop,
      privileged: container.request.host.privileged,
      available,
    });
    const capabilities = config.privileged
      ? computeCapabilities({ privileged: true, available })
      : containerCapabilities;
    const plan: ShimExecPlan = {
      stateDir: exec.stateDir,
      container: { pid: container.state.pid, shimPid: container.state.shimPid },
      cgroup: this.cgroups.open(container.id).shimCgroup(),
      capabilities: processCapabilities(capabilities),
      user,
      cwd: config.workingDir || container.workingDir,
      env: effectiveEnv([...container.env, ...config.env], {}, container.hostname, config.tty),
      args: config.cmd,
      noNewPrivileges: parseSecurityOptions(container.request.host.securityOpt).noNewPrivileges,
      // The container's filter, even with `docker exec --privileged`, as runc's exec has it.
      seccomp: containerSeccomp(container.request, containerCapabilities),
      stdio: {
        stdin: config.attachStdin && !detach ? { kind: 'attach' } : { kind: 'null' },
        stdout: { kind: 'log' },
        stderr: { kind: 'log' },
      },
      attach: detach ? {} : { holdUntilStart: true, stdinOnce: config.attachStdin && !config.tty },
      ...(config.tty ? { terminal: { rows: config.consoleSize?.[0] ?? 0, cols: config.consoleSize?.[1] ?? 0 } } : {}),
    };
    const started = await startExec({ shimPath: this.shimPath, plan });
    exec.running = true;
    exec.pid = started.pid;
    // The CLI asks for the exit code as soon as the stream ends: record it before the stream closes.
    started.attachment?.once('exit', (status) => {
      exec.running = false;
      exec.exitCode = status.exitCode ?? 126;
    });
    void started.exited.then(
      (status) => {
        exec.running = false;
        exec.exitCode = status.exitCode ?? 126;
      },
      () => {
        exec.running = false;
        exec.exitCode = 126;
      },
    );
    return { exec, attachment: started.attachment };
  }

  private availableCapabilities(): Promise<CapabilityName[]> {
    this.agentCapabilities ??= readFile('/proc/self/status', 'utf8').then((status) =>
      capabilitiesInMask(BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`)),
    );
    return this.agentCapabilities;
  }

  async resize(id: string, rows: number, cols: number): Promise<void> {
    const exec = this.get(id);
    if (!exec.config.tty || !exec.running) return;
    await resizeShim(exec.stateDir, rows, cols);
  }

  /** `GET /exec/{id}/json`. */
  inspect(id: string) {
    const exec = this.get(id);
    const [entrypoint = '', ...args] = exec.config.cmd;
    return {
      ID: exec.id,
      Running: exec.running,
      ExitCode: exec.exitCode,
      ProcessConfig: {
        tty: exec.config.tty,
        entrypoint,
        arguments: args,
        privileged: exec.config.privileged,
        user: exec.config.user,
      },
      OpenStdin: exec.config.attachStdin,
      OpenStderr: exec.config.attachStderr,
      OpenStdout: exec.config.attachStdout,
      CanRemove: false,
      ContainerID: exec.containerId,
      DetachKeys: '',
      Pid: exec.pid,
    };
  }

  /** Forgets one exec that has ended (the engine's own, such as a health probe). */
  async discard(id: string): Promise<void> {
    const exec = this.execs.get(id);
    if (!exec) return;
    this.execs.delete(id);
    await rm(exec.stateDir, { recursive: true, force: true });
  }

  /** Forgets the execs of a removed container. */
  async forget(containerId: string): Promise<void> {
    for (const exec of this.execs.values()) {
      if (exec.containerId === containerId) {
        this.execs.delete(exec.id);
        await rm(exec.stateDir, { recursive: true, force: true });
      }
    }
  }
}

function parseExecConfig(body: unknown): ExecConfig {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidArgument('the exec body must be a JSON object');
  const value = body as Record<string, unknown>;
  const flag = (key: string) => {
    if (value[key] === undefined || value[key] === null) return false;
    if (typeof value[key] !== 'boolean') throw invalidArgument(`${key} must be true or false`);
    return value[key];
  };
  const text = (key: string) => {
    if (value[key] === undefined || value[key] === null) return '';
    if (typeof value[key] !== 'string') throw invalidArgument(`${key} must be a string`);
    return value[key];
  };
  const strings = (key: string) => {
    const list = value[key] ?? [];
    if (!Array.isArray(list) || list.some((item) => typeof item !== 'string'))
      throw invalidArgument(`${key} must be an array of strings`);
    return list as string[];
  };
  const cmd = strings('Cmd');
  if (cmd.length === 0 || !cmd[0]) throw invalidArgument('no exec command specified');
  const workingDir = text('WorkingDir');
  if (workingDir && !workingDir.startsWith('/'))
    throw invalidArgument(`the working directory "${workingDir}" is invalid: it needs to be an absolute path`);
  const size = value.ConsoleSize;
  const consoleSize =
    Array.isArray(size) &&
    size.length === 2 &&
    size.every((item) => Number.isInteger(item) && (item as number) >= 0) &&
    (size[0] || size[1])
      ? ([size[0], size[1]] as [number, number])
      : null;
  return {
    attachStdin: flag('AttachStdin'),
    attachStdout: flag('AttachStdout'),
    attachStderr: flag('AttachStderr'),
    tty: flag('Tty'),
    consoleSize,
    env: strings('Env'),
    cmd,
    user: text('User'),
    workingDir,
    privileged: flag('Privileged'),
  };
}
