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
