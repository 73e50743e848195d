import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { localDoor, request } from './engine-door.js';

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/**
 * A long-running daemon of the benchmark (an engine, containerd), its output going to a log file
 * rather than through the benchmark's own event loop, which times the commands.
 */
export class DaemonProcess {
  private readonly exit: Promise<number | string>;

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
    readonly logPath: string,
  ) {
    this.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  }

  static start(
    label: string,
    argv: readonly string[],
    logPath: string,
    env: NodeJS.ProcessEnv = process.env,
  ): DaemonProcess {
    const log = openSync(logPath, 'a');
    try {
      const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', log, log] });
      child.once('error', () => undefined); // Seen as an early exit by whoever waits on it.
      return new DaemonProcess(label, child, logPath);
    } finally {
      closeSync(log);
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  logTail(characters = 3_000): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8').slice(-characters) : '';
  }

  /** Waits until `path` exists (a socket the daemon makes), or fails with its log. */
  async waitForPath(path: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(path)) {
      if (!this.running()) throw new Error(`${this.label} exited before making ${path}:\n${this.logTail()}`);
      if (Date.now() > deadline)
        throw new Error(`${this.label} did not make ${path} in ${timeoutMs / 1000} s:\n${this.logTail()}`);
      await sleep(50);
    }
  }

  /** Waits until the Engine API on `socketPath` answers `GET /_ping`. */
  async waitForPing(socketPath: string, timeoutMs = 60_000): Promise<void> {
    const door = localDoor(socketPath);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running())
        throw new Error(`${this.label} exited before answering on ${socketPath}:\n${this.logTail()}`);
      const answer = await request(door, 'GET', '/_ping').catch(() => undefined);
      if (answer?.status === 200) return;
      if (Date.now() > deadline)
        throw new Error(`${this.label} did not answer on ${socketPath} in ${timeoutMs / 1000} s:\n${this.logTail()}`);
      await sleep(100);
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 30_000): Promise<number | string> {
    if (!this.running()) return this.exit;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    const first = await Promise.race([this.exit, late]);
    clearTimeout(timer);
    if (first !== 'late') return first;
    this.child.kill('SIGKILL');
    return this.exit;
  }
}
