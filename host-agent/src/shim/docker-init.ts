/**
 * Docker's `--init`: a small init process runs as pid 1 and the container's command as its child.
 * skiff-init (host-agent/shim/init/init.c, built next to skiff-shim as build/skiff-init) plays
 * tini's part: it is bound read-only where Docker puts its init, and forwards signals to the
 * command, reaps orphaned zombies and exits with the command's status.
 */
import type { ShimMount } from './shim-plan.js';

/** Where Docker mounts its init inside the container (`docker inspect` shows it in Args/Path). */
export const DOCKER_INIT_PATH = '/sbin/docker-init';

export interface DockerInit {
  /** The read-only bind of the init binary; add it to the plan's mounts. */
  mount: ShimMount;
  /** The plan's args: the init, `--`, then the container's command. */
  args: string[];
}

/** What `--init` changes in a plan; initBinary is the host path of skiff-init (static). */
export function dockerInit(initBinary: string, args: readonly string[]): DockerInit {
  return {
    mount: { type: 'bind', source: initBinary, target: DOCKER_INIT_PATH, flags: ['rdonly', 'nosuid', 'nodev'] },
    args: [DOCKER_INIT_PATH, '--', ...args],
  };
}
