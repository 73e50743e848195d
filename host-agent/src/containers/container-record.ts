import type { HealthConfig } from '../images/image-config.js';
import type { CreateRequest } from './create-request.js';
import type { ContainerStatus } from './container-state.js';

/** A mount as `inspect` shows it (`Mounts[]`), with where it comes from on the host. */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Set for volumes. */
  Name?: string;
  /** The host path (the volume's data directory for volumes); empty for tmpfs. */
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

export interface ContainerRuntimeState {
  status: ContainerStatus;
  pid: number;
  shimPid: number;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  restartCount: number;
  /** Stopped, killed or removed through the API since its last start: its restart policy waits. */
  manuallyStopped?: boolean;
  /** Set while the container has a healthcheck (`State.Health`). */
  health?: HealthState;
}

/** One probe of a healthcheck, as `State.Health.Log` shows it. */
export interface HealthResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** `State.Health`. */
export interface HealthState {
  Status: HealthStatus;
  FailingStreak: number;
  /** The last five probes, oldest first. */
  Log: HealthResult[];
}

/** Everything the engine keeps about one container, in `<root>/containers/<id>/container.json`. */
export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  imageId: string;
  /** The image as the client named it (`Config.Image`). */
  imageName: string;
  request: CreateRequest;
  path: string;
  args: string[];
  env: string[];
  workingDir: string;
  hostname: string;
  stopSignal: string;
  stopTimeout: number;
  /** The labels of the image, overridden by the container's own. */
  labels: Record<string, string>;
  rootfs: { lowerDirs: string[]; upperDir: string; workDir: string; mountTarget: string };
  mounts: MountPoint[];
  /** The request's healthcheck over the image's (`Config.Healthcheck`); absent when neither has one. */
  healthcheck?: HealthConfig;
  /** The image's SHELL, for CMD-SHELL healthchecks; absent means /bin/sh -c. */
  shell?: string[];
  state: ContainerRuntimeState;
}

export function initialState(): ContainerRuntimeState {
  return {
    status: 'created',
    pid: 0,
    shimPid: 0,
    startedAt: null,
    finishedAt: null,
    exitCode: 0,
    oomKilled: false,
    error: '',
    restartCount: 0,
  };
}
