import type { ContainerLink, IptablesJump, NetworkHost } from './network-host.js';

/** A NetworkHost that only records what it was asked, for unit tests of the network service. */
export class RecordingNetworkHost implements NetworkHost {
  readonly bridges = new Map<string, string>();
  readonly links = new Map<string, ContainerLink>();
  nftScripts: string[] = [];
  forwardingEnabled = false;
  routeTable = 'default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2\n';
  resolvConf = 'nameserver 192.0.2.53\n';
  nft = true;

  routes(): Promise<string> {
    const own = [...this.bridges].map(([name, cidr]) => `${cidrNetwork(cidr)} dev ${name} proto kernel scope link`);
    return Promise.resolve(`${this.routeTable}${own.join('\n')}\n`);
  }

  ensureBridge(name: string, gatewayCidr: string): Promise<void> {
    this.bridges.set(name, gatewayCidr);
    return Promise.resolve();
  }

  deleteBridge(name: string): Promise<void> {
    this.bridges.delete(name);
    return Promise.resolve();
  }

  linkExists(name: string): Promise<boolean> {
    return Promise.resolve(this.bridges.has(name) || this.links.has(name));
  }

  connect(link: ContainerLink): Promise<void> {
    if (!this.bridges.has(link.bridge)) return Promise.reject(new Error(`no bridge ${link.bridge}`));
    this.links.set(link.hostInterface, link);
    return Promise.resolve();
  }

  deleteLink(hostInterface: string): Promise<void> {
    this.links.delete(hostInterface);
    return Promise.resolve();
  }

  applyNft(script: string): Promise<void> {
    this.nftScripts.push(script);
    return Promise.resolve();
  }

  hasNft(): Promise<boolean> {
    return Promise.resolve(this.nft);
  }

  hasIptables(): Promise<boolean> {
    return Promise.resolve(false);
  }

  applyIptables(_script: string, _jumps: IptablesJump[]): Promise<void> {
    return Promise.resolve();
  }

  removeIptables(): Promise<void> {
    return Promise.resolve();
  }

  enableForwarding(): Promise<boolean> {
    const changed = !this.forwardingEnabled;
    this.forwardingEnabled = true;
    return Promise.resolve(changed);
  }

  hostResolvConf(): Promise<string> {
    return Promise.resolve(this.resolvConf);
  }

  /** The last script loaded. */
  get ruleset(): string {
    return this.nftScripts.at(-1) ?? '';
  }
}

function cidrNetwork(cidr: string): string {
  const [address, prefix] = cidr.split('/');
  const parts = address.split('.').map(Number);
  const value = ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
  const mask = Number(prefix) === 0 ? 0 : (0xffffffff << (32 - Number(prefix))) >>> 0;
  const base = (value & mask) >>> 0;
  return `${[base >>> 24, (base >>> 16) & 255, (base >>> 8) & 255, base & 255].join('.')}/${prefix}`;
}
