/**
 * The engine's whole firewall as one nftables script, rebuilt from the engine's state on every
 * change and loaded in one transaction (`nft -f -`): the table is created if missing, deleted and
 * defined again, so a restarted agent neither drops nor duplicates a rule, and nothing outside
 * Skiff's own table is ever touched.
 */

export interface FirewallNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
}

export interface FirewallPort {
  protocol: 'tcp' | 'udp';
  /** '' or 0.0.0.0: every local address. */
  hostIp: string;
  hostPort: number;
  containerAddress: string;
  containerPort: number;
  /** The bridge the container is reached through (its own traffic to the port is not rewritten). */
  bridge: string;
}

export interface FirewallState {
  networks: readonly FirewallNetwork[];
  ports: readonly FirewallPort[];
}

const NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const TABLE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const ADDRESS = /^\d{1,3}(\.\d{1,3}){3}$/;
const SUBNET = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

/** Every value is checked before it lands in the script: the script is data, never built from free text. */
function checked(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw new Error(`refusing ${what} ${JSON.stringify(value)} in a firewall rule`);
  return value;
}

export function checkTableName(table: string): string {
  return checked(table, TABLE, 'table name');
}

export function nftRuleset(table: string, state: FirewallState): string {
  const t = checkTableName(table);
  const bridges = state.networks.map((network) => checked(network.bridge, NAME, 'bridge name'));
  const lines = [`table ip ${t}`, `delete table ip ${t}`, `table ip ${t} {`];

  lines.push('  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
  for (const network of state.networks) {
    if (network.internal) continue;
    lines.push(`    ip saddr ${checked(network.subnet, SUBNET, 'subnet')} oifname != "${network.bridge}" masquerade`);
  }
  lines.push('  }');

  lines.push('  chain prerouting {', '    type nat hook prerouting priority dstnat; policy accept;');
  lines.push('    fib daddr type local jump publish', '  }');
  lines.push('  chain output {', '    type nat hook output priority -100; policy accept;');
  lines.push('    ip daddr != 127.0.0.0/8 fib daddr type local jump publish', '  }');
  lines.push('  chain publish {');
  for (const port of state.ports) {
    const destination =
      port.hostIp && port.hostIp !== '0.0.0.0' ? `ip daddr ${checked(port.hostIp, ADDRESS, 'address')} ` : '';
    if (destination.startsWith('ip daddr 127.')) continue; // loopback is the userland proxy's
    lines.push(
      `    iifname != "${checked(port.bridge, NAME, 'bridge name')}" ${destination}${port.protocol} dport ${integer(port.hostPort)} dnat to ${checked(port.containerAddress, ADDRESS, 'address')}:${integer(port.containerPort)}`,
    );
  }
  lines.push('  }');

  lines.push('  chain forward {', '    type filter hook forward priority filter; policy accept;');
  for (const network of state.networks) {
    if (network.internal) {
      // An internal network has no way out, and nothing outside reaches in.
      lines.push(`    iifname "${network.bridge}" oifname != "${network.bridge}" drop`);
      lines.push(`    oifname "${network.bridge}" iifname != "${network.bridge}" drop`);
    }
  }
  for (const bridge of bridges) {
    const others = bridges.filter((other) => other !== bridge);
    // Containers on different networks never reach each other.
    if (others.length) lines.push(`    iifname "${bridge}" oifname { ${others.map((o) => `"${o}"`).join(', ')} } drop`);
  }
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

/** The script that removes the table, whether or not it exists. */
export function nftDeleteTable(table: string): string {
  const t = checkTableName(table);
  return `table ip ${t}\ndelete table ip ${t}\n`;
}

function integer(value: number): string {
  if (!Number.isInteger(value) || value < 1 || value > 65535)
    throw new Error(`refusing port ${value} in a firewall rule`);
  return String(value);
}
