import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../../../test/support/busybox-image.js';
import { repoRoot, type Started, startNode } from '../../../test/support/processes.js';

const run = promisify(execFile);
const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');
/** When the agent is killed after the operation began, in ms: from before it starts to after it ends. */
const KILL_AFTER_MS = [0, 15, 30, 60, 100, 160, 250, 400];

interface Inspected {
  Id: string;
  Name: string;
  State: { Status: string; Pid: number; Running: boolean };
  GraphDriver: { Data: { UpperDir: string; LowerDir: string } };
  Mounts: { Type: string; Name?: string }[];
}

/**
 * Crash consistency: the real agent binary is SIGKILLed at many points of a load, of container
 * creates, starts and removals, and of a volume's first fill; each time the next start must find
 * a store it can use, with nothing half-made in use and nothing leaked.
 */
describe('an agent killed in the middle of its work', () => {
  let root: string;
  let socket: string;
  let agent: Started | undefined;
  const env = () => ({ ...process.env, DOCKER_HOST: `unix://${socket}` });
  const docker = async (...args: string[]) =>
    (await run('docker', args, { env: env(), timeout: 60_000 })).stdout.trim();
  const settle = (operation: Promise<unknown>) =>
    operation.then(
      () => 'done',
      () => 'failed',
    );

  const startAgent = async () => {
    agent = startNode(agentScript, ['--root', root, '--socket', socket, '--log-level', 'info'], {});
    await agent.waitForOutput(/engine API on unix:/);
  };

  /** Every container id that ever had a directory, to check that none keeps a cgroup. */
  const seenIds = new Set<string>();

  /** Starts `operation`, kills the agent `afterMs` later, waits for the client to give up, starts the agent again. */
  const killDuring = async (operation: () => Promise<unknown>, afterMs: number) => {
    const outcome = settle(operation());
    await new Promise((resolve) => setTimeout(resolve, afterMs));
    agent?.child.kill('SIGKILL');
    await agent?.exited;
    await outcome;
    for (const name of await readdir(join(root, 'containers')).catch(() => [])) {
      const id = /[a-f0-9]{64}/.exec(name)?.[0];
      if (id) seenIds.add(id);
    }
    await startAgent();
  };

  /** What must hold after every restart. */
  const checkStore = async () => {
    // Nothing left half-written in tmp/, and every unpacked layer complete.
    expect(await readdir(join(root, 'tmp')).catch(() => [])).toEqual([]);
    for (const layer of await readdir(join(root, 'layers'))) {
      expect(existsSync(join(root, 'layers', layer, 'layer.json')), `layer ${layer} is complete`).toBe(true);
    }
    // Every image is whole: its layers are there, and it can be inspected.
    for (const id of (await docker('images', '-q', '--no-trunc')).split('\n').filter(Boolean)) {
      const image = JSON.parse(await docker('image', 'inspect', id))[0] as { RootFS: { Layers: string[] } };
      expect(image.RootFS.Layers.length).toBeGreaterThan(0);
    }
    // Every container record points at its own rootfs and at layers that exist; no stray directories.
    const ids = (await docker('ps', '-aq', '--no-trunc')).split('\n').filter(Boolean);
    for (const id of ids) {
      const container = JSON.parse(await docker('inspect', id))[0] as Inspected;
      expect(existsSync(container.GraphDriver.Data.UpperDir), `${container.Name} has its upper directory`).toBe(true);
      for (const lower of container.GraphDriver.Data.LowerDir.split(':')) expect(existsSync(lower)).toBe(true);
      expect(['created', 'running', 'exited']).toContain(container.State.Status);
      if (container.State.Running) expect(alive(container.State.Pid), `${container.Name} runs`).toBe(true);
    }
    expect((await readdir(join(root, 'containers'))).sort()).toEqual([...ids].sort());
  };

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('the crash tests need root: run the tests as root');
    root = await mkdtemp(join(tmpdir(), 'skiff-crash-'));
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
      if (ids) await docker('rm', '-f', '-v', ...ids.split('\n')).catch(() => undefined);
      await agent.stop('SIGTERM');
    }
    if (root) {
      const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
      expect(mountinfo.split('\n').filter((line) => line.includes(root))).toEqual([]);
      await rm(root, { recursive: true, force: true });
    }
  });

  it('loads an image whole or not at all, wherever the load is cut', async () => {
    for (const [round, afterMs] of KILL_AFTER_MS.entries()) {
      const image = await buildBusyboxImage({ tag: `crash-load:${round}`, fillerLayers: { count: 4, bytes: 4 << 20 } });
      try {
        await killDuring(() => docker('load', '--input', image.archivePath), afterMs);
        await checkStore();
        const listed = await docker('images', '-q', `crash-load:${round}`);
        if (listed) {
          expect(await docker('run', '--rm', `crash-load:${round}`, 'sh', '-c', 'ls /filler-* | wc -l')).toBe('4');
        }
        // A second load completes whatever the first left.
        await docker('load', '--input', image.archivePath);
        expect(await docker('run', '--rm', `crash-load:${round}`, 'sh', '-c', 'ls /filler-* | wc -l')).toBe('4');
        await docker('rmi', `crash-load:${round}`);
      } finally {
        await image.cleanup();
      }
    }
  });

  it('leaves containers created, started and removed in one piece, or not at all', async () => {
    for (const afterMs of KILL_AFTER_MS) {
      const before = (await docker('ps', '-aq', '--no-trunc')).split('\n').filter(Boolean);
      await killDuring(
        () =>
          Promise.all([
            ...Array.from({ length: 4 }, () => docker('run', '-d', 'busybox', 'sleep', '3600')),
            ...Array.from({ length: 2 }, () => docker('create', 'busybox', 'true')),
            ...before.slice(0, 4).map((id) => docker('rm', '-f', id)),
          ]),
        afterMs,
      );
      await checkStore();
    }
    // Everything left can still be used and removed, leaving nothing behind.
    const ids = (await docker('ps', '-aq')).split('\n').filter(Boolean);
    for (const id of ids.slice(0, 3))
      expect(await docker('exec', id, 'echo', 'alive').catch(() => 'not running')).toMatch(/alive|not running/);
    if (ids.length) await docker('rm', '-f', ...ids);
    expect(await readdir(join(root, 'containers'))).toEqual([]);
    // No cgroup of any of them is left, whatever moment its agent died at.
    expect(seenIds.size).toBeGreaterThan(0);
    const cgroups = ['/sys/fs/cgroup/skiff', '/sys/fs/cgroup/pids/skiff', '/sys/fs/cgroup/memory/skiff'];
    const left = [...seenIds].filter((id) => cgroups.some((base) => existsSync(join(base, id))));
    expect(left).toEqual([]);
  });

  it('fills a new volume from the image completely, even when the first fill is cut', async () => {
    const applets = await docker('run', '--rm', 'busybox', 'sh', '-c', 'ls /bin | wc -l');
    for (const [round, afterMs] of KILL_AFTER_MS.entries()) {
      await killDuring(
        () => docker('run', '-d', '--name', `filler-${round}`, '-v', `fill-${round}:/bin`, 'busybox', 'sleep', '3600'),
        afterMs,
      );
      await checkStore();
      const volumes = (await docker('volume', 'ls', '-q')).split('\n');
      if (volumes.includes(`fill-${round}`)) {
        // Whatever survived, a container using the volume sees all of /bin.
        expect(await docker('run', '--rm', '-v', `fill-${round}:/bin`, 'busybox', 'sh', '-c', 'ls /bin | wc -l')).toBe(
          applets,
        );
      }
      await docker('rm', '-f', `filler-${round}`).catch(() => undefined);
      await docker('volume', 'rm', `fill-${round}`).catch(() => undefined);
    }
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
