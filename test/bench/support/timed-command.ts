import { spawn } from 'node:child_process';
import { nowMs } from './latency-sample.js';

export interface CommandOutcome {
  /** From just before the spawn to the process's exit, in milliseconds. */
  ms: number;
  /** The exit code, or the signal's name. */
  status: number | string;
  /** The end of what it wrote to stderr (its error, when it failed). */
  stderr: string;
}

export interface TimedCommand {
  argv: readonly string[];
  env?: NodeJS.ProcessEnv;
}

const STDERR_KEPT = 4_000;

/**
 * Runs a command to its end and times it as a user waiting on it would: from the spawn to the
 * exit. stdout is discarded (the commands measured print nothing), stderr kept for the report.
 */
export function runTimed(command: TimedCommand, timeoutMs = 120_000): Promise<CommandOutcome> {
  const [file, ...args] = command.argv;
  return new Promise((resolve, reject) => {
    const startedAt = nowMs();
    const child = spawn(file, args, { env: command.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEPT);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${file} could not start: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      const ms = nowMs() - startedAt;
      clearTimeout(timer);
      // The exit comes before the last of stderr: wait for the pipe to close, outside the measured time.
      const settle = () => resolve({ ms, status: code ?? signal ?? 'unknown', stderr: stderr.trim() });
      if (child.stderr.readableEnded) settle();
      else child.stderr.once('close', settle);
    });
  });
}

export interface BurstOutcome {
  /** From the first spawn to the last exit. */
  wallMs: number;
  outcomes: CommandOutcome[];
}

/** Starts every command at once and waits for all of them: the wall time of the lot. */
export async function runAtOnce(commands: readonly TimedCommand[], timeoutMs = 300_000): Promise<BurstOutcome> {
  const startedAt = nowMs();
  const outcomes = await Promise.all(commands.map((command) => runTimed(command, timeoutMs)));
  return { wallMs: nowMs() - startedAt, outcomes };
}

/**
 * Runs a command that must succeed (set-up and clean-up steps, never timed); resolves with its
 * stdout. A command still running after `timeoutMs` (default 3 minutes) is killed and rejects, so
 * a peer that hangs is reported instead of stalling the run.
 */
export function runChecked(
  argv: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: Buffer; timeoutMs?: number } = {},
): Promise<string> {
  const [file, ...args] = argv;
  const timeoutMs = options.timeoutMs ?? 180_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${file} could not start: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`${argv.join(' ')} did not finish within ${timeoutMs / 1000} s (killed)`));
      else if (code === 0) resolve(stdout);
      else
        reject(
          new Error(`${argv.join(' ')} failed (${signal ?? `exit code ${code}`}): ${stderr.trim() || stdout.trim()}`),
        );
    });
    child.stdin.end(options.input);
  });
}
