import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueNetwork } from '../../../test/support/unique-network.js';
import { createLogger } from '../logger.js';
import { iptablesChains } from './iptables-rules.js';
import { IpNetworkHost } from './network-host.js';
import { NetworkService } from './network-service.js';

const run = promisify(execFile);

/** A host where nft is missing: the engine must fall back to iptables in chains of its own. */
class NoNftHost extends IpNetworkHost {
  override hasNft(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

const rulesOf = async (table: 'nat' | 'filter', chain?: string) =>
  (await run('iptables', ['-t', table, '-S', ...(chain ? [chain] : [])]).catch(() => ({ stdout: '' }))).stdout;

describe('the iptables fallback', () => {
  const network = uniqueNetwork();
  const chains = iptablesChains(network.table);
  let root: string;
  let service: NetworkService | undefined;
  /** iptables-nft makes `ip nat` and `ip filter` tables; those it made for this test go afterwards. */
  let tablesBefore = '';
  const open = () =>
    NetworkService.open({
      root,
      logger: createLogger({ level: 'error', write: () => undefined }),
      host: new NoNftHost(),
      bridgeName: network.bridgeName,
      bridgeSubnet: network.bridgeSubnet,
      pool: network.pool,
      table: network.table,
    });

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('the iptables fallback test needs root');
    await run('iptables', ['--version']).catch(() => {
      throw new Error('iptables is missing: apt-get install iptables');
    });
    root = await mkdtemp(join(tmpdir(), 'skiff-iptables-'));
    tablesBefore = (await run('nft', ['list', 'tables']).catch(() => ({ stdout: '' }))).stdout;
  });
  afterAll(async () => {
    await service?.teardown().catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true });
    for (const table of ['nat', 'filter']) {
      const rules = await rulesOf(table as 'nat' | 'filter');
      const onlyPolicies = rules.split('\n').every((line) => line === '' || line.startsWith('-P '));
      if (!tablesBefore.includes(`table ip ${table}\n`) && onlyPolicies) {
        await run('nft', ['delete', 'table', 'ip', table]).catch(() => undefined);
      }
    }
  });

  it('puts NAT and isolation in chains of its own, once, and takes them away again', async () => {
    service = await open();
    const id = (await service.create({ Name: 'sealed', Internal: true })).Id;
    const bridge = `sk-${id.slice(0, 12)}`;
    expect(await rulesOf('nat', chains.postrouting)).toContain(
      `-A ${chains.postrouting} -s ${network.bridgeSubnet} ! -o ${network.bridgeName} -j MASQUERADE`,
    );
    expect(await rulesOf('filter', chains.forward)).toContain(
      `-A ${chains.forward} -i ${bridge} ! -o ${bridge} -j DROP`,
    );
    // A second start (an agent restart) replaces the chains: no rule or jump twice.
    service.close();
    service = await open();
    const jumps = (await rulesOf('filter', 'FORWARD'))
      .split('\n')
      .filter((line) => line.includes(`-j ${chains.forward}`));
    expect(jumps).toHaveLength(1);
    expect(
      (await rulesOf('nat', chains.postrouting)).split('\n').filter((line) => line.includes('MASQUERADE')),
    ).toHaveLength(1);
    // Removing the network takes its rules; the teardown takes the chains and the jumps.
    await service.remove('sealed');
    expect(await rulesOf('filter', chains.forward)).not.toContain(bridge);
    await service.teardown();
    service = undefined;
    expect(await rulesOf('nat')).not.toContain(chains.postrouting);
    expect(await rulesOf('filter')).not.toContain(chains.forward);
    expect((await run('ip', ['-br', 'link'])).stdout).not.toContain(network.bridgeName);
  });
});
