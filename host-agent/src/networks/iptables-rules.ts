/**
 * The firewall for hosts without nft: the same rules as the nftables table, in chains of the
 * engine's own (`<PREFIX>-POSTROUTING`, …) that `iptables-restore --noflush` replaces whole, plus
 * one jump into each from the built-in chain, added once and removed on teardown. Nothing else
 * in the host's tables is touched.
 */
import type { FirewallState } from './nft-ruleset.js';
import { checkTableName } from './nft-ruleset.js';

const NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const ADDRESS = /^\d{1,3}(\.\d{1,3}){3}$/;
const SUBNET = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

function checked(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw new Error(`refusing ${what} ${JSON.stringify(value)} in a firewall rule`);
  return value;
}

/** The engine's chains, named after its nftables table (`skiff` → `SKIFF-FORWARD`). */
export function iptablesChains(table: string) {
  const prefix = checkTableName(table).toUpperCase().slice(0, 16);
  return {
    postrouting: `${prefix}-POSTROUTING`,
    prerouting: `${prefix}-PREROUTING`,
    output: `${prefix}-OUTPUT`,
    publish: `${prefix}-PUBLISH`,
    forward: `${prefix}-FORWARD`,
  };
}

/** The jumps from the built-in chains into the engine's, as `iptables` arguments (`-t`, chain, rule). */
export function iptablesJumps(table: string): { table: 'nat' | 'filter'; chain: string; rule: string[] }[] {
  const chains = iptablesChains(table);
  return [
    { table: 'nat', chain: 'POSTROUTING', rule: ['-j', chains.postrouting] },
    { table: 'nat', chain: 'PREROUTING', rule: ['-j', chains.prerouting] },
    { table: 'nat', chain: 'OUTPUT', rule: ['-j', chains.output] },
    { table: 'filter', chain: 'FORWARD', rule: ['-j', chains.forward] },
  ];
}

/** Input for `iptables-restore --noflush`: each of the engine's chains declared (so emptied) and filled again. */
export function iptablesRestoreScript(table: string, state: FirewallState): string {
  const chains = iptablesChains(table);
  const lines = ['*nat'];
  for (const chain of [chains.postrouting, chains.prerouting, chains.output, chains.publish])
    lines.push(`:${chain} - [0:0]`);
  for (const network of state.networks) {
    if (network.internal) continue;
    lines.push(
      `-A ${chains.postrouting} -s ${checked(network.subnet, SUBNET, 'subnet')} ! -o ${checked(network.bridge, NAME, 'bridge name')} -j MASQUERADE`,
    );
  }
  lines.push(`-A ${chains.prerouting} -m addrtype --dst-type LOCAL -j ${chains.publish}`);
  lines.push(`-A ${chains.output} ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j ${chains.publish}`);
  for (const port of state.ports) {
    if (port.hostIp.startsWith('127.')) continue;
    const destination =
      port.hostIp && port.hostIp !== '0.0.0.0' ? ` -d ${checked(port.hostIp, ADDRESS, 'address')}` : '';
    lines.push(
      `-A ${chains.publish} ! -i ${checked(port.bridge, NAME, 'bridge name')}${destination} -p ${port.protocol} -m ${port.protocol} --dport ${port.hostPort} -j DNAT --to-destination ${checked(port.containerAddress, ADDRESS, 'address')}:${port.containerPort}`,
    );
  }
  lines.push('COMMIT', '*filter', `:${chains.forward} - [0:0]`);
  const bridges = state.networks.map((network) => checked(network.bridge, NAME, 'bridge name'));
  for (const network of state.networks) {
    if (!network.internal) continue;
    lines.push(`-A ${chains.forward} -i ${network.bridge} ! -o ${network.bridge} -j DROP`);
    lines.push(`-A ${chains.forward} -o ${network.bridge} ! -i ${network.bridge} -j DROP`);
  }
  for (const bridge of bridges) {
    for (const other of bridges)
      if (other !== bridge) lines.push(`-A ${chains.forward} -i ${bridge} -o ${other} -j DROP`);
  }
  lines.push('COMMIT');
  return `${lines.join('\n')}\n`;
}
