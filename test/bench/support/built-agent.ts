import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/processes.js';

/** The agent measured: its version, the commit checked out, and when its build output was last written. */
export function describeBuiltAgent(): string {
  const version = execFileSync(process.execPath, [join(repoRoot, 'host-agent/bin/skiff-agent.js'), '--version'], {
    encoding: 'utf8',
  }).trim();
  const commit = execFileSync('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const changed = execFileSync('git', ['-C', repoRoot, 'status', '--porcelain', '--', 'host-agent'], {
    encoding: 'utf8',
  }).trim();
  const dist = join(repoRoot, 'host-agent/dist');
  const newestDist = Math.max(
    ...readdirSync(dist, { recursive: true, encoding: 'utf8' }).map((name) => statSync(join(dist, name)).mtimeMs),
  );
  const shim = statSync(join(repoRoot, 'host-agent/shim/build/skiff-shim')).mtimeMs;
  return (
    `${version} at commit ${commit}${changed ? ' (with uncommitted changes in host-agent/)' : ''}; ` +
    `host-agent/dist last written ${new Date(newestDist).toISOString()}, skiff-shim built ${new Date(shim).toISOString()}`
  );
}

/** The bridge, subnet and nftables table a running agent was given (SKIFF_BRIDGE & co. in its environment). */
export function agentNetworkOf(pids: readonly number[]): { bridgeName: string; bridgeSubnet: string; table: string } {
  for (const pid of pids) {
    let environ: string[];
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    const value = (name: string) => environ.find((entry) => entry.startsWith(`${name}=`))?.slice(name.length + 1);
    const [bridgeName, bridgeSubnet, table] = ['SKIFF_BRIDGE', 'SKIFF_BRIDGE_SUBNET', 'SKIFF_NFT_TABLE'].map(value);
    if (bridgeName && bridgeSubnet && table) return { bridgeName, bridgeSubnet, table };
  }
  throw new Error(
    `none of the agent's processes (${pids.join(', ')}) has SKIFF_BRIDGE, SKIFF_BRIDGE_SUBNET and SKIFF_NFT_TABLE`,
  );
}
