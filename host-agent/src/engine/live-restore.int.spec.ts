import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../../../test/support/busybox-image.js';
import { repoRoot, type Started, startNode } from '../../../test/support/processes.js';

const run = promisify(execFile);
const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');

/** Numbers 1, 2, 3… one per line, every 10 ms, for ever. */
const COUNTER = 'i=0; while true; do i=$((i+1)); echo $i; usleep 10000; done';

/**
 * Live restore: the agent process (the real binary) is SIGKILLed while a client follows a
 * container's log, and started again on the same state. Its containers never stop.
 */
describe('a SIGKILLed agent finds its containers again', () => {
  let root: string;
  let socket: string;
  let agent: Started | undefined;
  const env = () => ({ ...process.env, DOCKER_HOST: `unix://${socket}` });
  const docker = async (...args: string[]) =>
    (await run('docker', args, { env: env(), timeout: 30_000 })).stdout.trim();

  const startAgent = async () => {
    agent = startNode(agentScript, ['--root', root, '--socket', socket, '--log-level', 'info'], {});
    await agent.waitForOutput(/engine API on unix:/);
  };

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('live restore needs root: run the tests as root');
    root = await mkdtemp(join(tmpdir(), 'skiff-restore-'));
    await chmod(root, 0o711);
    socket = join(root, 'docker.sock');
    await startAgent();
    const image = await buildBusyboxImage();
    try {
      await docker('load', '--input', image.archivePath);
    } finally {
      await image.cleanup();
    }
  });

  afterAll(async () => {
    if (agent && agent.child.exitCode === null && agent.child.signalCode === null) {
      const ids = await docker('ps', '-aq').catch(() => '');
      if (ids) await docker('rm', '-f', ...ids.split('\n')).catch(() => undefined);
      await agent.stop('SIGTERM');
    }
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('keeps the log whole across the kill, knows exits that happened meanwhile, and runs exec again', async () => {
    await docker('run', '-d', '--name', 'counter', 'busybox', 'sh', '-c', COUNTER);
    await docker('run', '-d', '--name', 'short', 'busybox', 'sh', '-c', 'sleep 1; exit 7');
    await docker('run', '-d', '--rm', '--name', 'short-rm', 'busybox', 'sh', '-c', 'sleep 1; exit 3');
    const before = JSON.parse(await docker('inspect', 'counter'))[0] as { State: { Pid: number; StartedAt: string } };

    // A client follows the log while the agent dies under it.
    const follower = spawn('docker', ['logs', '-f', 'counter'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let followed = '';
    follower.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString()));
    const followerGone = new Promise((resolve) => follower.once('close', resolve));
    await expect.poll(() => followed.split('\n').length, { timeout: 10_000 }).toBeGreaterThan(30);
    agent?.child.kill('SIGKILL');
    await agent?.exited;
    await followerGone;

    // Down long enough for the short container to end, then up again on the same state.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await startAgent();

    const after = JSON.parse(await docker('inspect', 'counter'))[0] as {
      State: { Status: string; Pid: number; StartedAt: string };
    };
    expect(after.State).toMatchObject({ Status: 'running', Pid: before.State.Pid, StartedAt: before.State.StartedAt });
    expect(await docker('ps', '--filter', 'status=running', '--format', '{{.Names}}')).toBe('counter');
    const short = JSON.parse(await docker('inspect', 'short'))[0] as { State: { Status: string; ExitCode: number } };
    expect(short.State).toMatchObject({ Status: 'exited', ExitCode: 7 });
    expect(await docker('ps', '-a', '--filter', 'name=short', '--format', '{{.Status}}')).toMatch(/^Exited \(7\)/);
    // A --rm container that ended meanwhile is removed once the agent is back, as if it had watched.
    await expect.poll(() => docker('ps', '-a', '--filter', 'name=short-rm', '--format', '{{.Names}}')).toBe('');

    // Following again: every number from 1 on, each once, and still counting.
    const seenBefore = numbers(followed);
    const again = spawn('docker', ['logs', '-f', 'counter'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let resumed = '';
    again.stdout.on('data', (chunk: Buffer) => (resumed += chunk.toString()));
    const last = seenBefore.at(-1) ?? 0;
    await expect.poll(() => numbers(resumed).at(-1) ?? 0, { timeout: 10_000 }).toBeGreaterThan(last + 200);
    const atRestart = numbers(resumed).at(-1) ?? 0;
    await expect.poll(() => numbers(resumed).at(-1) ?? 0, { timeout: 10_000 }).toBeGreaterThan(atRestart + 20);
    again.kill('SIGTERM');
    const all = numbers(resumed);
    expect(all).toEqual(Array.from({ length: all.length }, (_, index) => index + 1));
    // What the first client saw is exactly the start of it: nothing lost or doubled before the kill.
    expect(seenBefore).toEqual(all.slice(0, seenBefore.length));

    // Exec and attach reach the container again.
    expect(await docker('exec', 'counter', 'echo', 'again')).toBe('again');
    const attached = spawn('docker', ['attach', '--no-stdin', 'counter'], {
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let live = '';
    attached.stdout.on('data', (chunk: Buffer) => (live += chunk.toString()));
    await expect.poll(() => numbers(live).length, { timeout: 10_000 }).toBeGreaterThan(5);
    attached.kill('SIGKILL');
    const streamed = numbers(live);
    expect(streamed.slice(1)).toEqual(streamed.slice(1).map((_, index) => streamed[1] + index));
  });
});

/** The complete numbered lines of a log, in order (a cut-off last line is left out). */
function numbers(text: string): number[] {
  const lines = text.split('\n');
  lines.pop();
  return lines.filter((line) => line !== '').map(Number);
}
