import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { runChecked } from './timed-command.js';

const TABLES = ['nat', 'filter'] as const;
type Table = (typeof TABLES)[number];

/** Kernel settings a bridged dockerd may change (dockerd 20.10's bridge driver sets bridge-nf-call-iptables). */
const SYSCTLS = [
  '/proc/sys/net/ipv4/ip_forward',
  '/proc/sys/net/bridge/bridge-nf-call-iptables',
  '/proc/sys/net/bridge/bridge-nf-call-ip6tables',
];

const rulesOf = async (table: Table) =>
  (await runChecked(['iptables', '-w', '-t', table, '-S'])).split('\n').filter(Boolean);

/** `-A FORWARD -o br0 -j DOCKER` → `FORWARD -o br0 -j DOCKER`, as `-D` takes it (dockerd's rules quote no word). */
const ruleWords = (line: string) => line.split(' ').slice(1);

/**
 * What a dockerd with `--iptables` adds to the host's firewall, and the kernel settings it may
 * turn, taken away again after it stopped: dockerd 20.10 leaves its DOCKER* chains, their jumps
 * from the built-in chains and its bridge's rules behind when it exits. Taken before dockerd
 * starts, so only what it added goes: `ip nat` / `ip filter` tables that iptables-nft made for it,
 * a sysctl it turned (ours may turn ip_forward too: every one goes back to what it was).
 */
export class DockerdFirewall {
  private constructor(
    private readonly nftTablesBefore: string,
    private readonly sysctlsBefore: Map<string, string>,
  ) {}

  /** Refuses when DOCKER* chains are there already: another dockerd's, which this one would share. */
  static async before(): Promise<DockerdFirewall> {
    await runChecked(['iptables', '--version']).catch(() => {
      throw new Error('iptables is missing (dockerd needs it for its bridge): apt-get install iptables');
    });
    for (const table of TABLES) {
      const theirs = (await rulesOf(table)).filter((line) => line.startsWith('-N DOCKER'));
      if (theirs.length > 0) {
        throw new Error(
          `the ${table} table already has dockerd's chains (${theirs.map((line) => line.slice(3)).join(', ')}): ` +
            'another dockerd with iptables runs on this host, and a second one would share and then remove them',
        );
      }
    }
    const nftTables = await runChecked(['nft', 'list', 'tables']).catch(() => '');
    const sysctls = new Map(
      SYSCTLS.filter((path) => existsSync(path)).map((path) => [path, readFileSync(path, 'utf8').trim()]),
    );
    return new DockerdFirewall(nftTables, sysctls);
  }

  /** The sysctls as they were before, e.g. `ip_forward 1`: for the report. */
  describeSysctls(): string {
    return [...this.sysctlsBefore].map(([path, value]) => `${path.split('/').pop()} ${value}`).join(', ');
  }

  /**
   * Removes dockerd's rules (jumps to DOCKER* chains, rules naming its bridge or subnet), its
   * chains, the iptables-nft tables made for it, and turns changed sysctls back. Returns what it did.
   */
  async restore(bridgeName: string, subnet: string): Promise<string[]> {
    const done: string[] = [];
    for (const table of TABLES) {
      const rules = await rulesOf(table);
      const chains = rules.filter((line) => line.startsWith('-N DOCKER')).map((line) => line.slice(3));
      const dockerds = rules.filter((line) => {
        if (!line.startsWith('-A ') || line.startsWith('-A DOCKER')) return false;
        const rule = ruleWords(line);
        const target = rule[rule.indexOf('-j') + 1] ?? '';
        return target.startsWith('DOCKER') || rule.includes(bridgeName) || rule.includes(subnet);
      });
      for (const line of dockerds) {
        await runChecked(['iptables', '-w', '-t', table, '-D', ...ruleWords(line)]);
        done.push(`${table}: ${line}`);
      }
      for (const chain of chains) await runChecked(['iptables', '-w', '-t', table, '-F', chain]);
      for (const chain of chains) {
        await runChecked(['iptables', '-w', '-t', table, '-X', chain]);
        done.push(`${table}: chain ${chain}`);
      }
      const onlyPolicies = (await rulesOf(table)).every((line) => line.startsWith('-P '));
      if (!this.nftTablesBefore.includes(`table ip ${table}\n`) && onlyPolicies) {
        await runChecked(['nft', 'delete', 'table', 'ip', table]).catch(() => undefined);
        done.push(`nft table ip ${table}`);
      }
    }
    for (const [path, value] of this.sysctlsBefore) {
      if (readFileSync(path, 'utf8').trim() === value) continue;
      writeFileSync(path, `${value}\n`);
      done.push(`${path} back to ${value}`);
    }
    return done;
  }
}
