/**
 * Starts a container (`skiff-shim run`) or a process in a running container (`skiff-shim exec`)
 * and reads what the shim leaves in the state directory.
 *
 * The shim runs detached in its own session with /dev/null for stdio, so neither the agent's
 * terminal nor its exit reaches the container. It answers once on fd 3:
 *   started <container-pid> <shim-pid>
 *   error <step> <errno> <ERRNO-NAME> <description> <path>
 * (fields %-escaped as in the plan) and then closes it.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { spawnDetached, type DetachedChild } from '../sys/detached-spawn.js';

import { attachToShim, type ShimAttachment } from './shim-attach.js';
import { ShimError, ShimStartError } from './shim-error.js';
import { SHIM_STATE_FILES, type ShimExecPlan, type ShimPlan } from './shim-plan.js';
import { parseShimRecords, serialiseShimExecPlan, serialiseShimPlan } from './shim-plan-serialiser.js';
import { readShimExitStatus, type ShimExitStatus } from './shim-state.js';

export { ShimError, ShimStartError } from './shim-error.js';
export { readShimExitStatus, readShimState, type ShimExitStatus, type ShimState } from './shim-state.js';

interface SpawnOptions {
  /** The skiff-shim binary (host-agent/shim/build/skiff-shim). */
  shimPath: string;
  /** Where the plan is written; default <stateDir>/shim.plan. */
  planPath?: string;
  /**
   * Descriptors of the agent handed down to the shim: passFds[i] becomes fd 4 + i there, which
   * is what a plan's `{ kind: 'fd', fd }` stdio refers to. Every other fd is closed by the shim.
   */
  passFds?: number[];
  /** Give up (and kill the shim) after this long; default 30 s. */
  timeoutMs?: number;
}

export interface ShimStartOptions extends SpawnOptions {
  plan: ShimPlan;
}

export interface ShimExecStartOptions extends SpawnOptions {
  plan: ShimExecPlan;
}

export interface StartedContainer {
  /** pid 1 of the container (or the exec'd process), as the host sees it. */
  pid: number;
  shimPid: number;
  /** Resolves when the shim exits, with the status it recorded (only while this agent process lives). */
  exited: Promise<ShimExitStatus>;
  /** Ask the shim to pass a signal on to the process (SIGKILL cannot be forwarded: signal `pid` for that). */
  forwardSignal(signal: NodeJS.Signals): void;
}

export interface StartedExec extends StartedContainer {
  /**
   * With `plan.attach`: connected before startExec resolves. Add listeners, then call
   * `attachment.start()` when the plan holds the process until start.
   */
  attachment?: ShimAttachment;
}

export const SHIM_REPORT_FD = 3;

/** The shim reads its plan at once and nothing reads it after a reboot: atomic, not durable. */
async function writeFileAtomic(path: string, data: Buffer): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, data, { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function collect(stream: Readable | null, limit: number): Promise<string> {
  return new Promise((resolve) => {
    if (!stream) return resolve('');
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      if (text.length < limit) text += chunk.slice(0, limit - text.length);
    });
    stream.on('end', () => resolve(text));
    stream.on('error', () => resolve(text));
  });
}

/** Parses the shim's one-line answer. */
export function parseShimReport(text: string): { pid: number; shimPid: number } | ShimStartError | undefined {
  const [record] = parseShimRecords(text);
  if (!record) return undefined;
  const [kind, ...fields] = record;
  if (kind === 'started' && fields.length === 2) {
    const [pid, shimPid] = fields.map(Number) as [number, number];
    if (Number.isInteger(pid) && pid > 0 && Number.isInteger(shimPid) && shimPid > 0) return { pid, shimPid };
  }
  if (kind === 'error' && fields.length === 5) {
    const [step, errno, code, description, path] = fields as [string, string, string, string, string];
    return new ShimStartError(step, Number(errno), code, description, path);
  }
  return undefined;
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

/**
 * Writes the plan, runs the shim and waits until the process has exec'd, or is held before
 * execve for attach `start` (resolves with its pid), or a step failed (rejects with
 * ShimStartError naming step, errno and path).
 */
async function spawnShim(
  mode: 'run' | 'exec',
  wire: Buffer,
  stateDir: string,
  options: SpawnOptions,
): Promise<StartedContainer> {
  const { shimPath } = options;
  const planPath = options.planPath ?? join(stateDir, SHIM_STATE_FILES.plan);
  await writeFileAtomic(planPath, wire);

  let child: DetachedChild;
  try {
    // fd 2: its diagnostics until it has started; fd 3: the report; 4 on: passFds.
    child = spawnDetached(
      shimPath,
      [mode, '--plan', planPath, '--report-fd', String(SHIM_REPORT_FD)],
      [{ pipe: true }, { pipe: true }, ...(options.passFds ?? []).map((fd) => ({ fd }))],
    );
  } catch (error) {
    throw new ShimError('unavailable', `cannot run skiff-shim ${shimPath}: ${(error as Error).message}`);
  }
  const exitedProcess = child.exited;
  // Until it is reaped (here, in JS) its pid cannot be anyone else's: a kill before that is safe.
  let reaped = false;
  void exitedProcess.then(() => (reaped = true));
  const report = collect(child.pipes.get(SHIM_REPORT_FD) ?? null, 64 * 1024);
  const stderrPipe = child.pipes.get(2);
  const stderr = collect(stderrPipe ?? null, 64 * 1024);

  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const first = await Promise.race([report, timedOut]);
    if (first === 'timeout') {
      if (!reaped) process.kill(child.pid, 'SIGKILL');
      throw new ShimError('unavailable', `skiff-shim did not report within ${timeoutMs} ms: ${planPath}`);
    }
    const answer = parseShimReport(first);
    if (answer instanceof ShimStartError) throw answer;
    if (!answer) {
      const { code, signal } = await Promise.race([exitedProcess, timedOut.then(() => ({ code: null, signal: null }))]);
      const diagnostics = (await Promise.race([stderr, delay(1000, '')])).trim();
      throw new ShimError(
        'internal',
        `skiff-shim ended without a report (exit ${code ?? signal ?? 'unknown'})${diagnostics ? `: ${diagnostics}` : ''}`,
      );
    }
    stderrPipe?.destroy(); // after the start the shim writes its diagnostics to shim.log
    const exited = exitedProcess.then(async () => {
      const status = await readShimExitStatus(stateDir);
      if (!status) throw new ShimError('internal', `skiff-shim left no exit status in ${stateDir}`);
      return status;
    });
    exited.catch(() => {}); // a caller that never asks must not get an unhandled rejection
    return {
      pid: answer.pid,
      shimPid: answer.shimPid,
      exited,
      forwardSignal: (signal) => process.kill(answer.shimPid, signal),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts a container. Resolves once pid 1 has exec'd — or, with `attach.holdUntilStart`, once it
 * waits right before execve for an attach client's `start` (attachToShim(plan.stateDir), then
 * attachment.start()). Rejects with ShimStartError naming step, errno and path.
 */
export async function startShim(options: ShimStartOptions): Promise<StartedContainer> {
  const wire = serialiseShimPlan(options.plan); // a bad plan fails here, before anything is touched
  return spawnShim('run', wire, options.plan.stateDir, options);
}

/**
 * Starts a process in a running container (Docker's exec start); the exec's state directory
 * (plan.stateDir) gets its own state.json, exit.json and attach socket. A container that is not
 * running is a ShimStartError of kind `conflict` ("container is not running: ESRCH …").
 */
export async function startExec(options: ShimExecStartOptions): Promise<StartedExec> {
  const { plan } = options;
  const wire = serialiseShimExecPlan(plan);
  const started = await spawnShim('exec', wire, plan.stateDir, options);
  if (!plan.attach) return started;
  try {
    const attachment = await attachToShim(plan.stateDir, { stdin: plan.stdio.stdin.kind === 'attach' });
    return { ...started, attachment };
  } catch (error) {
    // Without its client a held exec would wait for ever.
    try {
      process.kill(started.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    throw error;
  }
}
