import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type BusyboxImage, buildBusyboxImage } from './busybox-image.js';
import { repoRoot, type Started, startNode } from './processes.js';
import { call, type Session } from './test-server.js';

const run = promisify(execFile);
const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');

/** A real agent process (as root, with its engine) enrolled with a server and online. */
export interface EnrolledAgent {
  hostId: string;
  name: string;
  process: Started;
  socketPath: string;
  /** The docker CLI against the agent's own socket (the local door). */
  docker(...args: string[]): Promise<string>;
  /** The agent's resident memory in bytes. */
  rss(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Enrols a host with a fresh join token, starts the built agent on a temporary root, waits until
 * the server shows it online and, with `busybox`, loads busybox:latest into its engine.
 */
export async function startEnrolledAgent(
  baseUrl: string,
  admin: Session,
  options: { name: string; busybox?: boolean },
): Promise<EnrolledAgent> {
  if (process.getuid?.() !== 0) throw new Error('a real agent needs root: run the tests as root (CI does)');
  const created = await call(baseUrl, admin, 'POST', '/api/join-tokens', {});
  if (created.status !== 201) throw new Error(`join token: ${created.status} ${JSON.stringify(created.body)}`);
  const root = await mkdtemp(join(tmpdir(), 'skiff-agent-'));
  await chmod(root, 0o711);
  const socketPath = join(root, 'docker.sock');
  const agent = startNode(
    agentScript,
    [
      '--server',
      baseUrl,
      '--join-token',
      (created.body as { token: string }).token,
      '--root',
      root,
      '--socket',
      socketPath,
      '--name',
      options.name,
    ],
    {},
  );
  let busybox: BusyboxImage | undefined;
  const docker = async (...args: string[]) =>
    (
      await run('docker', args, { env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` }, timeout: 60_000 })
    ).stdout.trim();
  try {
    const deadline = Date.now() + 60_000;
    let hostId: string | undefined;
    while (!hostId) {
      if (Date.now() > deadline) throw new Error(`host ${options.name} did not come online:\n${agent.output()}`);
      const hosts = await call(baseUrl, admin, 'GET', '/api/hosts');
      const host = (hosts.body as Array<{ id: string; name: string; status: string }>).find(
        (candidate) => candidate.name === options.name && candidate.status === 'online',
      );
      if (host) hostId = host.id;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (options.busybox) {
      busybox = await buildBusyboxImage({ format: 'docker-save', tag: 'busybox:latest' });
      await docker('load', '--input', busybox.archivePath);
    }
    return {
      hostId,
      name: options.name,
      process: agent,
      socketPath,
      docker,
      rss: async () => {
        const { readFile } = await import('node:fs/promises');
        const status = await readFile(`/proc/${agent.child.pid}/status`, 'utf8');
        return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
      },
      close: async () => {
        const ids = await docker('ps', '-aq').catch(() => '');
        if (ids) await docker('rm', '-f', '-v', ...ids.split('\n')).catch(() => undefined);
        await agent.stop('SIGTERM');
        await busybox?.cleanup();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await agent.stop('SIGKILL');
    await busybox?.cleanup();
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}
