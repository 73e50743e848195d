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

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function readShimExitStatus(stateDir: string): Promise<ShimExitStatus | undefined> {
  return readJson<ShimExitStatus>(join(stateDir, SHIM_STATE_FILES.exit));
}

/** What a restarted agent reads to find its running containers again. */
export function readShimState(stateDir: string): Promise<ShimState | undefined> {
  return readJson<ShimState>(join(stateDir, SHIM_STATE_FILES.state));
}
