import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One interface of a container: the veth pair's host end on a bridge, the other end inside. */
export interface ContainerLink {
  /** The container's pid 1: its network namespace is /proc/<pid>/ns/net. */
  pid: number;
  bridge: string;
  hostInterface: string;
  interfaceName: string;
  mac: string;
  /** `172.31.0.2/16` */
  addressCidr: string;
  /** The default route, when this network gives one. */
  gateway?: string;
}

export interface IptablesJump {
  table: 'nat' | 'filter';
  chain: string;
  rule: string[];
}

/** What the network service asks of the host's kernel; one real implementation (ip, nft), checked by the integration tests. */
export interface NetworkHost {
  routes(): Promise<string>;
  ensureBridge(name: string, gatewayCidr: string): Promise<void>;
  deleteBridge(name: string): Promise<void>;
  linkExists(name: string): Promise<boolean>;
  connect(link: ContainerLink): Promise<void>;
  deleteLink(hostInterface: string): Promise<void>;
  /** Loads a whole nftables script in one transaction. */
  applyNft(script: string): Promise<void>;
  hasNft(): Promise<boolean>;
  hasIptables(): Promise<boolean>;
  /** iptables-restore --noflush of the engine's chains, then the jumps into them (each added once). */
  applyIptables(script: string, jumps: IptablesJump[]): Promise<void>;
  /** The jumps and the engine's chains go. */
  removeIptables(jumps: IptablesJump[], chains: { table: 'nat' | 'filter'; chain: string }[]): Promise<void>;
  /** Sets net.ipv4.ip_forward; true when it was off. */
  enableForwarding(): Promise<boolean>;
  hostResolvConf(): Promise<string>;
}

/**
 * A name the engine gives an interface (IFNAMSIZ - 1 characters at most): never `.` or `..`, so it
 * is safe as a path component under /proc/sys, and never starting with `-`, so `ip` takes it as a name.
 */
export const INTERFACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

/** Names and addresses reach `ip` only as separate arguments (or checked batch lines), never through a shell. */
export class IpNetworkHost implements NetworkHost {
  private nft: Promise<boolean> | undefined;

  async routes(): Promise<string> {
    return (await run('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout;
  }

  async ensureBridge(name: string, gatewayCidr: string): Promise<void> {
    if (!(await this.linkExists(name))) {
      await run('ip', ['link', 'add', 'name', name, 'type', 'bridge']).catch(async (error: unknown) => {
        if (!(await this.linkExists(name))) throw error; // another start made it meanwhile
      });
    }
    await disableIpv6(name);
    await run('ip', ['addr', 'replace', gatewayCidr, 'dev', name]);
    await run('ip', ['link', 'set', name, 'up']);
  }

  async deleteBridge(name: string): Promise<void> {
    if (await this.linkExists(name)) await run('ip', ['link', 'del', name]);
  }

  async linkExists(name: string): Promise<boolean> {
    return run('ip', ['link', 'show', 'dev', name]).then(
      () => true,
      () => false,
    );
  }

  async connect(link: ContainerLink): Promise<void> {
    // The peer is born inside the container's namespace under its final name: no moment with an
    // `eth0` in the host's namespace, and no clash with the host's own. A pair left by a start
    // that was cut short (same name) goes first.
    checkLink(link);
    const add = () =>
      run('ip', [
        'link',
        'add',
        link.hostInterface,
        'master',
        link.bridge,
        'up',
        'type',
        'veth',
        'peer',
        'name',
        link.interfaceName,
        'address',
        link.mac,
        'netns',
        String(link.pid),
      ]);
    await add().catch(async (error: unknown) => {
      if (!(await this.linkExists(link.hostInterface))) throw error;
      await this.deleteLink(link.hostInterface);
      await add();
    });
    try {
      // Before the peer is up: the host end has no carrier yet, so it never gets an IPv6 address.
      await disableIpv6(link.hostInterface);
      const batch = [
        `addr add ${link.addressCidr} dev ${link.interfaceName}`,
        `link set ${link.interfaceName} up`,
        ...(link.gateway ? [`route replace default via ${link.gateway} dev ${link.interfaceName}`] : []),
      ];
      await runWithInput('nsenter', [`--net=/proc/${link.pid}/ns/net`, '--', 'ip', '-batch', '-'], batch.join('\n'));
    } catch (error) {
      await this.deleteLink(link.hostInterface).catch(() => undefined);
      throw error;
    }
  }

  async deleteLink(hostInterface: string): Promise<void> {
    if (await this.linkExists(hostInterface)) await run('ip', ['link', 'del', hostInterface]);
  }

  async applyNft(script: string): Promise<void> {
    await runWithInput('nft', ['-f', '-'], script);
  }

  hasNft(): Promise<boolean> {
    this.nft ??= run('nft', ['--version']).then(
      () => true,
      () => false,
    );
    return this.nft;
  }

  hasIptables(): Promise<boolean> {
    return run('iptables', ['--version']).then(
      () => true,
      () => false,
    );
  }

  async applyIptables(script: string, jumps: IptablesJump[]): Promise<void> {
    await runWithInput('iptables-restore', ['--noflush'], script);
    for (const jump of jumps) {
      const exists = await run('iptables', ['-t', jump.table, '-C', jump.chain, ...jump.rule]).then(
        () => true,
        () => false,
      );
      if (!exists) await run('iptables', ['-t', jump.table, '-I', jump.chain, '1', ...jump.rule]);
    }
  }

  async removeIptables(jumps: IptablesJump[], chains: { table: 'nat' | 'filter'; chain: string }[]): Promise<void> {
    for (const jump of jumps) {
      for (let removed = true; removed;) {
        removed = await run('iptables', ['-t', jump.table, '-D', jump.chain, ...jump.rule]).then(
          () => true,
          () => false,
        );
      }
    }
    for (const { table, chain } of chains) {
      await run('iptables', ['-t', table, '-F', chain]).catch(() => undefined);
      await run('iptables', ['-t', table, '-X', chain]).catch(() => undefined);
    }
  }

  async enableForwarding(): Promise<boolean> {
    const path = '/proc/sys/net/ipv4/ip_forward';
    if ((await readFile(path, 'utf8')).trim() === '1') return false;
    await writeFile(path, '1\n');
    return true;
  }

  async hostResolvConf(): Promise<string> {
    return readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  }
}

/**
 * The engine's networks are IPv4 only: their bridges and the host ends of their veths get no
 * IPv6 either (LXD turns it off on host ends too). Otherwise each would take a link-local
 * address a second or so after it comes up (a change every network-watching program on the host
 * reacts to: Chromium aborts its requests in flight), and containers could reach the host's IPv6
 * services through it. A kernel without IPv6 has nothing to turn off.
 */
async function disableIpv6(interfaceName: string): Promise<void> {
  if (!INTERFACE_NAME.test(interfaceName)) {
    throw new Error(`refusing ${JSON.stringify(interfaceName)} as an interface name`);
  }
  await writeFile(`/proc/sys/net/ipv6/conf/${interfaceName}/disable_ipv6`, '1\n').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  });
}

/** The batch lines below are built from these: each must be exactly what the engine makes. */
function checkLink(link: ContainerLink): void {
  const fields: [string, RegExp][] = [
    [link.hostInterface, INTERFACE_NAME],
    [link.bridge, INTERFACE_NAME],
    [link.interfaceName, /^eth\d{1,3}$/],
    [link.mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/],
    [link.addressCidr, /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/],
    [link.gateway ?? '0.0.0.0', /^\d{1,3}(\.\d{1,3}){3}$/],
    [String(link.pid), /^[1-9]\d*$/],
  ];
  for (const [value, pattern] of fields) {
    if (!pattern.test(value)) throw new Error(`refusing ${JSON.stringify(value)} for a container's interface`);
  }
}

function runWithInput(file: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve();
    });
    child.stdin?.end(input);
  });
}
