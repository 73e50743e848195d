import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../../../test/support/busybox-image.js';
import { repoRoot, type Started, startNode } from '../../../test/support/processes.js';
import { uniqueNetwork } from '../../../test/support/unique-network.js';

const run = promisify(execFile);
const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');

function tcpAnswer(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.end();
  });
}

/**
 * Live restore with networks: the real agent is SIGKILLed while containers on a user network
 * publish a port. Its next start finds the same addresses, answers on the same port and names,
 * and loads exactly the same firewall (nothing dropped, nothing doubled).
 */
describe('networks across a SIGKILLed agent', () => {
  let root: string;
  let socket: string;
  let agent: Started | undefined;
  const network = uniqueNetwork();
  const env = () => ({ ...process.env, DOCKER_HOST: `unix://${socket}` });
  const docker = async (...args: string[]) =>
    (await run('docker', args, { env: env(), timeout: 30_000 })).stdout.trim();
  const nftTable = async () => (await run('nft', ['list', 'table', 'ip', network.table])).stdout;

  const startAgent = async () => {
    agent = startNode(agentScript, ['--root', root, '--socket', socket, '--log-level', 'info'], {
      SKIFF_BRIDGE: network.bridgeName,
      SKIFF_BRIDGE_SUBNET: network.bridgeSubnet,
      SKIFF_NETWORK_POOL: network.pool,
      SKIFF_NFT_TABLE: network.table,
    });
    await agent.waitForOutput(/engine API on unix:/);
  };

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root: run the tests as root');
    root = await mkdtemp(join(tmpdir(), 'skiff-netrestore-'));
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
    // A test that failed while the agent was down: up again, so its containers and networks go.
    const down = !agent || agent.child.exitCode !== null || agent.child.signalCode !== null;
    if (root && down) await startAgent().catch(() => undefined);
    if (agent && agent.child.exitCode === null && agent.child.signalCode === null) {
      const ids = await docker('ps', '-aq').catch(() => '');
      if (ids) await docker('rm', '-f', ...ids.split('\n')).catch(() => undefined);
      const networks = await docker('network', 'ls', '--filter', 'type=custom', '-q').catch(() => '');
      if (networks) await docker('network', 'rm', ...networks.split('\n')).catch(() => undefined);
      await agent.stop('SIGTERM');
    }
    await run('ip', ['link', 'del', network.bridgeName]).catch(() => undefined);
    await run('nft', ['delete', 'table', 'ip', network.table]).catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('keeps addresses, published ports, names and rules', async () => {
    await docker('network', 'create', 'kept');
    // prettier-ignore
    await docker('run', '-d', '--name', 'server', '--network', 'kept', '-p', '127.0.0.1::7300', 'busybox',
      'nc', '-ll', '-p', '7300', '-e', 'echo', 'served');
    const port = Number(
      await docker('inspect', 'server', '--format', '{{(index (index .NetworkSettings.Ports "7300/tcp") 0).HostPort}}'),
    );
    const address = await docker('inspect', 'server', '--format', '{{.NetworkSettings.Networks.kept.IPAddress}}');
    await expect.poll(() => tcpAnswer(port).catch(() => ''), { timeout: 10_000 }).toBe('served\n');
    const rules = await nftTable();
    const bridge = await bridgeOf('kept');

    agent?.child.kill('SIGKILL');
    await agent?.exited;
    // While the agent is down the container keeps its network (only the loopback proxy is gone).
    expect((await run('ip', ['-br', 'link', 'show', 'master', bridge])).stdout).toMatch(/^vsk/);
    await startAgent();

    expect(await nftTable()).toBe(rules);
    expect(await docker('inspect', 'server', '--format', '{{.NetworkSettings.Networks.kept.IPAddress}}')).toBe(address);
    await expect.poll(() => tcpAnswer(port).catch(() => ''), { timeout: 10_000 }).toBe('served\n');
    const resolved = await docker('run', '--rm', '--network', 'kept', 'busybox', 'nslookup', 'server');
    expect(resolved).toContain(`Address: ${address}`);
    // A new container gets the next address, not the survivor's.
    const next = await docker('run', '--rm', '--network', 'kept', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0');
    expect(next).not.toContain(`${address}/`);
  });

  it("leaves its bridges and rules up when it stops; uninstall's remove-networks takes them away, and only them", async () => {
    const bridge = await bridgeOf('kept');
    const ids = await docker('ps', '-aq');
    if (ids) await docker('rm', '-f', ...ids.split('\n'));
    await agent?.stop('SIGTERM');
    // A stop is not an uninstall: containers of a live-restored agent would need all of it.
    expect((await run('ip', ['link', 'show', 'dev', bridge])).stdout).toContain(bridge);
    expect(await nftTable()).toContain('postrouting');
    const bystander = `${network.bridgeName.slice(0, 11)}keep`;
    await run('ip', ['link', 'add', bystander, 'type', 'bridge']);
    try {
      const removed = await run('node', [agentScript, 'remove-networks', '--root', root], {
        env: { ...process.env, SKIFF_BRIDGE: network.bridgeName, SKIFF_NFT_TABLE: network.table },
      });
      expect(removed.stdout).toContain(`and the bridges ${network.bridgeName}, ${bridge}`);
      for (const gone of [network.bridgeName, bridge]) {
        await expect(run('ip', ['link', 'show', 'dev', gone])).rejects.toThrow(/does not exist/);
      }
      await expect(nftTable()).rejects.toThrow(/No such file or directory/);
      expect((await run('ip', ['link', 'show', 'dev', bystander])).stdout).toContain(bystander);
      // Run again (an uninstall retried): nothing left, still fine.
      const again = await run('node', [agentScript, 'remove-networks', '--root', root], {
        env: { ...process.env, SKIFF_BRIDGE: network.bridgeName, SKIFF_NFT_TABLE: network.table },
      });
      expect(again.stdout).toContain('no bridge was left');
    } finally {
      await run('ip', ['link', 'del', bystander]).catch(() => undefined);
    }
  });

  async function bridgeOf(name: string): Promise<string> {
    const id = await docker('network', 'inspect', name, '--format', '{{.Id}}');
    return `sk-${id.slice(0, 12)}`;
  }
});
