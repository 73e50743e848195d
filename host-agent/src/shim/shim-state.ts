/**
 * What skiff-shim leaves in a state directory (a container's, or an exec's): state.json once
 * the process runs, exit.json when it has ended. Both are written atomically by the shim.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { SHIM_STATE_FILES } from './shim-plan.js';

export interface ShimExitStatus {
  pid: number;
  /**
   * The exit code, or 128 + signal; null when the process never started. A process held for
   * attach "start" whose execve then failed has 127 (ENOENT) or 126, and a startError.
   */
  exitCode: number | null;
  /** The signal that killed the process, 0 if it exited. */
  signal: number;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
  /** Set when the start failed: "step: ERRNO (description): path". */
  startError?: string;
}

export interface ShimState {
  shimPid: number;
  pid: number;
  startedAt: string;
  logPath: string;
}

/**
 * The file as the shim wrote it, or undefined when there is none. The shim does not fsync (see
 * write_atomic in shim/main.c): after a crash of the host a file may be empty or torn, and then
 * the shim that wrote it is gone too, so it counts as none.
 */
async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export function readShimExitStatus(stateDir: string): Promise<ShimExitStatus | undefined> {
  return readJson<ShimExitStatus>(join(stateDir, SHIM_STATE_FILES.exit));
}

/** What a restarted agent reads to find its running containers again. */
export function readShimState(stateDir: string): Promise<ShimState | undefined> {
  return readJson<ShimState>(join(stateDir, SHIM_STATE_FILES.state));
}
