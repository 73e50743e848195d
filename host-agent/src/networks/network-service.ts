import { createHash, randomBytes } from 'node:crypto';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { conflict, forbidden, invalidArgument, notFound, unavailable } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../logger.js';
import type { EndpointRequest } from '../containers/create-request.js';
import { DnsServer } from './dns-server.js';
import { hostsFile, parseExtraHosts, resolvConf } from './hosts-files.js';
import {
  allocateAddress,
  chooseSubnet,
  claimAddress,
  macFor,
  planAddresses,
  routedSubnets,
  type AddressPlan,
} from './ipam.js';
import {
  contains,
  formatIpv4,
  formatSubnet,
  type Ipv4Subnet,
  overlaps,
  parseIpv4,
  parseSubnet,
  tryParseIpv4,
} from './ipv4.js';
import { INTERFACE_NAME, type NetworkHost } from './network-host.js';
import type { EndpointRecord, NetworkRecord, NetworkState, PortMapping } from './network-record.js';
import { NetworkStore } from './network-store.js';
import { checkTableName, nftDeleteTable, nftRuleset, type FirewallPort, type FirewallState } from './nft-ruleset.js';
import { iptablesChains, iptablesJumps, iptablesRestoreScript } from './iptables-rules.js';
import type { PortRequest } from './port-bindings.js';
import { openPortProxy, type PortProxy } from './port-proxy.js';

export interface NetworkServiceOptions {
  /** The engine's state root; the networks live in `<root>/networks/state.json`. */
  root: string;
  logger: Logger;
  host: NetworkHost;
  /** The default bridge's interface (default `skiff0`). */
  bridgeName: string;
  /** The default bridge's subnet; default the first of 172.31.0.0/16 … 172.17.0.0/16 that no route of the host uses. */
  bridgeSubnet?: string;
  /** Where user networks get their subnets, cut into /24s (default 172.24.0.0/14). */
  pool: string;
  /** The nftables table (default `skiff`). */
  table: string;
  /** The embedded DNS server's port (53; tests may pick another). */
  dnsPort?: number;
  /** Where the embedded DNS server forwards other names (default: the host's /etc/resolv.conf servers). */
  dnsUpstreams?: string[];
}

/** What the network service needs to know of a container. */
export interface NetworkedContainer {
  id: string;
  name: string;
  hostname: string;
  domainname: string;
  networkMode: string;
  dns: readonly string[];
  dnsSearch: readonly string[];
  dnsOptions: readonly string[];
  extraHosts: readonly string[];
  publish: readonly PortRequest[];
  /** The container's directory: hosts, resolv.conf and hostname are written there. */
  directory: string;
}

/** What a start needs from the network: files to bind, a namespace to join, and whether to wire it after the shim starts. */
export interface PreparedNetwork {
  mounts: { source: string; target: string }[];
  /** `container:<id>`: the other container's network namespace. */
  joinNamespace?: string;
  /** A new network namespace that `connectRunning` wires once pid 1 exists (held before execve). */
  wire: boolean;
}

export const DEFAULT_BRIDGE_SUBNETS = Array.from({ length: 15 }, (_, index) => `172.${31 - index}.0.0/16`);
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const BUILTIN_ID = (name: string) => createHash('sha256').update(`skiff builtin network ${name}`).digest('hex');
const NETWORK_FILTERS = ['id', 'name', 'driver', 'type', 'scope', 'label', 'dangling'];

/**
 * The engine's networks: the default `bridge`, user-defined bridges, and the built-in `host` and
 * `none`. Addresses are handed out when a container starts and taken back when it stops; the
 * state (networks, endpoints, published ports) is written atomically on every change, and the
 * firewall is rebuilt from it as one transaction, so an agent restart changes nothing.
 */
export class NetworkService {
  private state!: NetworkState;
  private readonly store: NetworkStore;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly proxies = new Map<string, PortProxy[]>();
  private readonly dns = new Map<string, DnsServer>();
  private forwardingChecked = false;
  private containerNames: (id: string) => string | undefined = () => undefined;
  private readonly pool: Ipv4Subnet;

  private constructor(private readonly options: NetworkServiceOptions) {
    this.store = new NetworkStore(join(options.root, 'networks'));
    checkTableName(options.table);
    if (!INTERFACE_NAME.test(options.bridgeName)) {
      throw invalidArgument(
        `invalid bridge name ${JSON.stringify(options.bridgeName)}: 1 to 15 of A-Z a-z 0-9 _ . -, not starting with . or -`,
      );
    }
    this.pool = parseSubnet(options.pool, 'network pool');
  }

  static async open(options: NetworkServiceOptions): Promise<NetworkService> {
    const service = new NetworkService(options);
    service.state = await service.store.load();
    await service.ensureDefaultNetwork();
    for (const network of service.state.networks) {
      await options.host.ensureBridge(network.bridge, gatewayCidr(network));
    }
    await service.applyFirewall();
    for (const network of service.state.networks) await service.startDns(network);
    // Published ports of containers that kept running while the agent was away.
    for (const [containerId, ports] of Object.entries(service.state.ports)) {
      await service
        .openProxies(containerId, ports)
        .catch((error: unknown) =>
          options.logger.warn(
            `networks: cannot publish the ports of container ${containerId} again: ${errorMessage(error)}`,
          ),
        );
    }
    return service;
  }

  /** The container names, for the DNS servers (the container service is made after this one). */
  useContainerNames(lookup: (id: string) => string | undefined): void {
    this.containerNames = lookup;
  }

  close(): void {
    for (const proxies of this.proxies.values()) for (const proxy of proxies) proxy.close();
    this.proxies.clear();
    for (const server of this.dns.values()) server.close();
    this.dns.clear();
  }

  /** Every bridge, rule and DNS server of this engine goes (for tests and uninstall; containers must be gone). */
  async teardown(): Promise<void> {
    this.close();
    await this.exclusive(() =>
      removeFromHost(
        this.options.host,
        this.state.networks.map((network) => network.bridge),
        this.options.table,
      ),
    );
  }

  // ---- the Engine API's networks ----------------------------------------------------------------

  list(filtersText?: { names(): string[]; has(name: string): boolean; get(name: string): readonly string[] }) {
    const views = this.views();
    if (!filtersText) return views;
    for (const name of filtersText.names()) {
      if (!NETWORK_FILTERS.includes(name)) throw invalidArgument(`invalid filter '${name}'`);
    }
    const any = (name: string, test: (value: string) => boolean) =>
      !filtersText.has(name) || filtersText.get(name).some(test);
    return views.filter(
      (view) =>
        any('name', (value) => view.Name.includes(value)) &&
        any('id', (value) => view.Id.startsWith(value)) &&
        any('driver', (value) => view.Driver === value) &&
        any('type', (value) => (value === 'builtin') === isBuiltin(view.Name, view.Options)) &&
        any('scope', (value) => value === 'local') &&
        any(
          'dangling',
          (value) =>
            (value === 'true' || value === '1') ===
            (Object.keys(view.Containers).length === 0 && !isBuiltin(view.Name, view.Options)),
        ) &&
        (!filtersText.has('label') ||
          filtersText.get('label').every((label) => {
            const [key, ...rest] = label.split('=');
            return rest.length ? view.Labels[key] === rest.join('=') : key in view.Labels;
          })),
    );
  }

  inspect(reference: string) {
    const view = this.views().find((candidate) => candidate.Name === reference || candidate.Id === reference);
    if (view) return view;
    const byPrefix = /^[a-f0-9]+$/.test(reference)
      ? this.views().filter((candidate) => candidate.Id.startsWith(reference))
      : [];
    if (byPrefix.length > 1)
      throw invalidArgument(`network ${reference} is ambiguous (${byPrefix.length} matches found on id prefix)`);
    if (!byPrefix[0]) throw notFound(`network ${reference} not found`);
    return byPrefix[0];
  }

  async create(body: unknown): Promise<{ Id: string; Warning: string }> {
    const request = parseNetworkCreate(body);
    return this.exclusive(async () => {
      if (this.findNetwork(request.name) || ['host', 'none', 'bridge'].includes(request.name)) {
        throw conflict(`network with name ${request.name} already exists`);
      }
      const inUse = await this.usedSubnets();
      let plan: AddressPlan;
      if (request.subnet) {
        plan = planAddresses({ subnet: request.subnet, gateway: request.gateway, ipRange: request.ipRange });
        const clash = inUse.find((used) => overlaps(used, plan.subnet));
        if (clash) throw forbidden(`Pool overlaps with other one on this address space: ${formatSubnet(clash)}`);
      } else {
        if (request.gateway || request.ipRange) throw invalidArgument('--gateway and --ip-range need --subnet');
        plan = planAddresses({ subnet: formatSubnet(chooseSubnet(this.pool, 24, inUse)) });
      }
      const id = randomBytes(32).toString('hex');
      const bridge = request.options['com.docker.network.bridge.name'] ?? `sk-${id.slice(0, 12)}`;
      if (!INTERFACE_NAME.test(bridge) || this.state.networks.some((network) => network.bridge === bridge)) {
        throw invalidArgument(`invalid or taken bridge name ${JSON.stringify(bridge)}`);
      }
      if (await this.options.host.linkExists(bridge)) throw conflict(`the host already has an interface ${bridge}`);
      const network: NetworkRecord = {
        id,
        name: request.name,
        created: new Date().toISOString(),
        bridge,
        subnet: formatSubnet(plan.subnet),
        gateway: formatIpv4(plan.gateway),
        ...(request.ipRange ? { ipRange: formatSubnet(plan.range) } : {}),
        internal: request.internal,
        attachable: request.attachable,
        isDefault: false,
        labels: request.labels,
        options: request.options,
      };
      this.state.networks.push(network);
      try {
        await this.options.host.ensureBridge(bridge, gatewayCidr(network));
        await this.save();
        await this.applyFirewall();
      } catch (error) {
        this.state.networks = this.state.networks.filter((candidate) => candidate.id !== id);
        await this.options.host.deleteBridge(bridge).catch(() => undefined);
        await this.save().catch(() => undefined);
        throw error;
      }
      await this.startDns(network);
      this.options.logger.info(`networks: created ${network.name} (${network.subnet} on ${bridge})`);
      return { Id: id, Warning: '' };
    });
  }

  async remove(reference: string): Promise<void> {
    await this.exclusive(async () => {
      const network = this.resolve(reference);
      if (network.isDefault) throw forbidden(`${network.name} is a pre-defined network and cannot be removed`);
      const users = this.endpointsOn(network.id);
      if (users.length) {
        throw forbidden(
          `error while removing network: network ${network.name} id ${network.id} has active endpoints (${users
            .map(([containerId]) => this.containerNames(containerId) ?? containerId.slice(0, 12))
            .join(', ')})`,
        );
      }
      await this.dropNetwork(network);
    });
  }

  async prune(labels: string[]): Promise<string[]> {
    return this.exclusive(async () => {
      const removed: string[] = [];
      for (const network of [...this.state.networks]) {
        if (network.isDefault || this.endpointsOn(network.id).length) continue;
        const matches = labels.every((label) => {
          const negate = label.startsWith('!');
          const [key, ...rest] = label.replace(/^!/, '').split('=');
          const has = rest.length ? network.labels[key] === rest.join('=') : key in network.labels;
          return negate ? !has : has;
        });
        if (!matches) continue;
        await this.dropNetwork(network);
        removed.push(network.name);
      }
      return removed;
    });
  }

  // ---- containers ---------------------------------------------------------------------------------

  /**
   * At create: the network mode and endpoints are checked, and the container joins its network
   * (addresses come at start). Throws before anything is recorded.
   */
  async register(
    container: { id: string; name: string; networkMode: string; endpoints: Record<string, EndpointRequest> },
    findContainer: (reference: string) => { id: string } | undefined,
  ): Promise<void> {
    const mode = container.networkMode;
    if (mode === 'host' || mode === 'none') return;
    if (mode.startsWith('container:')) {
      const target = mode.slice('container:'.length);
      // Not a 404: the docker CLI would take that for a missing image and try to pull it.
      if (!target || !findContainer(target)) throw invalidArgument(`No such container: ${target}`);
      return;
    }
    const network = this.findNetwork(networkName(mode));
    // Not a 404 either (see above).
    if (!network) throw invalidArgument(`network ${mode} not found`);
    await this.exclusive(async () => {
      const config = container.endpoints[mode] ?? container.endpoints[network.name] ?? container.endpoints[network.id];
      const endpoint = this.newEndpoint(network, config);
      this.state.endpoints[container.id] = [endpoint];
      await this.save();
    });
  }

  /** Endpoints, addresses and ports of a removed container go. */
  async forget(containerId: string): Promise<void> {
    await this.release(containerId);
    await this.exclusive(async () => {
      if (!(containerId in this.state.endpoints)) return;
      delete this.state.endpoints[containerId];
      await this.save();
    });
  }

  /** Forgets the endpoints and ports of every container not in `ids`. */
  async retain(ids: ReadonlySet<string>): Promise<void> {
    const gone = Object.keys(this.state.endpoints).filter((id) => !ids.has(id));
    const goneWithPorts = Object.keys(this.state.ports).filter((id) => !ids.has(id));
    if (!gone.length && !goneWithPorts.length) return;
    for (const id of new Set([...gone, ...goneWithPorts])) await this.forget(id);
    this.options.logger.warn(`networks: forgot the endpoints of ${gone.length} removed container(s)`);
  }

  /** Names and ids of the networks a container is on. */
  membership(containerId: string, networkMode: string): { names: string[]; ids: string[] } {
    const networks = (this.state.endpoints[containerId] ?? [])
      .map((endpoint) => this.networkById(endpoint.networkId))
      .filter((network): network is NetworkRecord => network !== undefined);
    const builtin = networkMode === 'host' || networkMode === 'none' ? [networkMode] : [];
    return {
      names: [...networks.map((network) => network.name), ...builtin],
      ids: [...networks.map((network) => network.id), ...builtin.map(BUILTIN_ID)],
    };
  }

  /** `POST /networks/{id}/connect`. */
  async connect(
    reference: string,
    container: { id: string; name: string; networkMode: string; running: boolean; pid: number },
    config: EndpointRequest,
  ): Promise<void> {
    const network = this.resolve(reference);
    if (['host', 'none'].includes(container.networkMode) || container.networkMode.startsWith('container:')) {
      throw forbidden(
        `container ${container.name} shares the network of ${container.networkMode === 'host' || container.networkMode === 'none' ? `network mode ${container.networkMode}` : 'another container'}: it cannot be connected to a network`,
      );
    }
    await this.exclusive(async () => {
      const endpoints = (this.state.endpoints[container.id] ??= []);
      if (endpoints.some((endpoint) => endpoint.networkId === network.id)) {
        throw forbidden(`endpoint with name ${container.name} already exists in network ${network.name}`);
      }
      const endpoint = this.newEndpoint(network, config);
      endpoints.push(endpoint);
      try {
        if (container.running) await this.wireEndpoint(container.id, container.pid, network, endpoint, endpoints);
        await this.save();
      } catch (error) {
        this.state.endpoints[container.id] = endpoints.filter((candidate) => candidate !== endpoint);
        throw error;
      }
    });
  }

  /** `POST /networks/{id}/disconnect`. */
  async disconnect(reference: string, container: { id: string; name: string }, force: boolean): Promise<void> {
    const network = this.resolve(reference);
    await this.exclusive(async () => {
      const endpoints = this.state.endpoints[container.id] ?? [];
      const endpoint = endpoints.find((candidate) => candidate.networkId === network.id);
      if (!endpoint) {
        if (force) return;
        throw forbidden(`container ${container.name} is not connected to network ${network.name}`);
      }
      if (endpoint.hostInterface) await this.options.host.deleteLink(endpoint.hostInterface).catch(() => undefined);
      const remaining = endpoints.filter((candidate) => candidate !== endpoint);
      this.state.endpoints[container.id] = remaining;
      await this.save();
      // Published ports follow the container to the address it still has (DNAT and the loopback proxy).
      if (endpoint.address && container.id in this.state.ports) {
        const next = remaining.find((candidate) => candidate.address)?.address;
        if (next) for (const proxy of this.proxies.get(container.id) ?? []) proxy.retarget(next);
        await this.applyFirewall();
      }
    });
  }

  /**
   * Before a start: addresses handed out, /etc/hosts, /etc/resolv.conf and /etc/hostname written,
   * and what the shim must do with the network namespace.
   */
  async prepare(
    container: NetworkedContainer,
    findRunning: (reference: string) => { pid: number; directory: string } | undefined,
  ): Promise<PreparedNetwork> {
    const mode = container.networkMode;
    if (mode.startsWith('container:')) {
      const target = findRunning(mode.slice('container:'.length));
      if (!target) throw conflict(`cannot join the network of container ${mode.slice(10)}: it is not running`);
      // The other container's own files (none when it runs with --network none).
      const mounts = [];
      for (const file of ['hosts', 'resolv.conf', 'hostname']) {
        const source = join(target.directory, file);
        if (
          await access(source).then(
            () => true,
            () => false,
          )
        )
          mounts.push({ source, target: `/etc/${file}` });
      }
      return { joinNamespace: `/proc/${target.pid}/ns/net`, wire: false, mounts };
    }
    // With no network at all the image's own files stay (nothing to resolve or reach).
    if (mode === 'none') return { wire: false, mounts: [] };
    const hostResolv = await this.options.host.hostResolvConf();
    const addresses: string[] = [];
    let embedded: string | undefined;
    if (mode !== 'host') {
      await this.exclusive(async () => {
        const endpoints = this.state.endpoints[container.id] ?? [];
        endpoints.forEach((endpoint, index) => {
          const network = this.networkById(endpoint.networkId);
          if (!network) return;
          this.assignAddress(network, endpoint, index);
          addresses.push(endpoint.address!);
          if (!network.isDefault) embedded ??= network.gateway;
        });
        await this.save({ durable: false });
      });
    }
    const defaultGateway = this.state.networks.find((network) => network.isDefault)?.gateway;
    const files = {
      hosts:
        mode === 'host'
          ? await readHostFile('/etc/hosts')
          : hostsFile({
              hostname: container.hostname,
              domainname: container.domainname,
              addresses,
              extraHosts: parseExtraHosts(container.extraHosts, defaultGateway),
            }),
      // On the host's network the host's own resolvers (127.0.0.53 too) are reachable as they are.
      'resolv.conf':
        mode === 'host' && !container.dns.length && !container.dnsSearch.length && !container.dnsOptions.length
          ? hostResolv
          : resolvConf({
              host: hostResolv,
              dns: container.dns,
              dnsSearch: container.dnsSearch,
              dnsOptions: container.dnsOptions,
              ...(embedded ? { embedded } : {}),
            }),
      hostname: `${mode === 'host' ? hostname() : container.hostname}\n`,
    };
    for (const [file, content] of Object.entries(files)) {
      await writeFile(join(container.directory, file), content, { mode: 0o644 });
    }
    return {
      wire: mode !== 'host',
      mounts: Object.keys(files).map((file) => ({ source: join(container.directory, file), target: `/etc/${file}` })),
    };
  }

  /** Pid 1 exists and waits before execve: its interfaces, routes and published ports. */
  async wire(container: NetworkedContainer, pid: number): Promise<void> {
    const began = performance.now();
    await this.exclusive(async () => {
      const endpoints = this.state.endpoints[container.id] ?? [];
      for (const endpoint of endpoints) {
        const network = this.networkById(endpoint.networkId);
        if (network) await this.wireEndpoint(container.id, pid, network, endpoint, endpoints);
      }
      const main = endpoints.map((endpoint) => ({ endpoint, network: this.networkById(endpoint.networkId) }))[0];
      if (container.publish.length && main?.network && main.endpoint.address) {
        const mappings = await this.publish(container.id, container.publish, main.endpoint.address);
        this.state.ports[container.id] = mappings;
      }
      await this.save({ durable: false });
      if (container.publish.length) await this.applyFirewall();
    });
    this.options.logger.debug(
      `networks: wired container ${container.name} in ${Math.round(performance.now() - began)} ms`,
    );
  }

  /** After an exit (or a failed start): addresses, interfaces and published ports go back. */
  async release(containerId: string): Promise<void> {
    for (const proxy of this.proxies.get(containerId) ?? []) proxy.close();
    this.proxies.delete(containerId);
    await this.exclusive(async () => {
      const endpoints = this.state.endpoints[containerId] ?? [];
      const hadPorts = containerId in this.state.ports;
      if (!hadPorts && !endpoints.some((endpoint) => endpoint.address)) return;
      for (const endpoint of endpoints) {
        // The kernel removes the pair with the container's namespace; a failed start may leave it.
        if (endpoint.hostInterface) await this.options.host.deleteLink(endpoint.hostInterface).catch(() => undefined);
        delete endpoint.address;
        delete endpoint.mac;
        delete endpoint.interfaceName;
        delete endpoint.hostInterface;
      }
      delete this.state.ports[containerId];
      await this.save({ durable: false });
      if (hadPorts) await this.applyFirewall();
    });
  }

  /** `NetworkSettings` of container inspect, as dockerd fills it. */
  settings(container: { id: string; networkMode: string; running: boolean; pid: number }) {
    const endpoints = this.state.endpoints[container.id] ?? [];
    const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
    for (const mapping of this.state.ports[container.id] ?? []) {
      (ports[`${mapping.containerPort}/${mapping.protocol}`] ??= []).push({
        HostIp: mapping.hostIp || '0.0.0.0',
        HostPort: String(mapping.hostPort),
      });
    }
    const networks: Record<string, unknown> = {};
    let main: Record<string, unknown> = {};
    for (const endpoint of endpoints) {
      const network = this.networkById(endpoint.networkId);
      if (!network) continue;
      const prefix = Number(network.subnet.split('/')[1]);
      const running = container.running && endpoint.address !== undefined;
      const view = {
        IPAMConfig: endpoint.staticAddress ? { IPv4Address: endpoint.staticAddress } : null,
        Links: null,
        Aliases: endpoint.aliases.length ? endpoint.aliases : null,
        MacAddress: running ? endpoint.mac : '',
        DriverOpts: null,
        NetworkID: network.id,
        EndpointID: running ? endpoint.endpointId : '',
        Gateway: running ? network.gateway : '',
        IPAddress: running ? endpoint.address : '',
        IPPrefixLen: running ? prefix : 0,
        IPv6Gateway: '',
        GlobalIPv6Address: '',
        GlobalIPv6PrefixLen: 0,
        DNSNames: network.isDefault ? null : this.namesOf(container.id, endpoint),
      };
      networks[network.name] = view;
      if (network.isDefault) {
        main = {
          EndpointID: view.EndpointID,
          Gateway: view.Gateway,
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          IPAddress: view.IPAddress,
          IPPrefixLen: view.IPPrefixLen,
          IPv6Gateway: '',
          MacAddress: view.MacAddress,
        };
      }
    }
    if (container.networkMode === 'host' || container.networkMode === 'none') {
      networks[container.networkMode] = {
        IPAMConfig: null,
        Links: null,
        Aliases: null,
        MacAddress: '',
        DriverOpts: null,
        NetworkID: BUILTIN_ID(container.networkMode),
        EndpointID: '',
        Gateway: '',
        IPAddress: '',
        IPPrefixLen: 0,
        IPv6Gateway: '',
        GlobalIPv6Address: '',
        GlobalIPv6PrefixLen: 0,
        DNSNames: null,
      };
    }
    return {
      Bridge: '',
      SandboxID: container.running ? container.id : '',
      SandboxKey: container.running && container.pid ? `/proc/${container.pid}/ns/net` : '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: container.running ? ports : {},
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: '',
      Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: '',
      IPPrefixLen: 0,
      IPv6Gateway: '',
      MacAddress: '',
      ...main,
      Networks: networks,
    };
  }

  /** `Ports` of `docker ps`. */
  portSummary(containerId: string) {
    return (this.state.ports[containerId] ?? []).map((mapping) => ({
      IP: mapping.hostIp || '0.0.0.0',
      PrivatePort: mapping.containerPort,
      PublicPort: mapping.hostPort,
      Type: mapping.protocol,
    }));
  }

  /** The networks a container is on, by name (for `docker ps --format {{.Networks}}` and filters). */
  networkNames(containerId: string): string[] {
    return (this.state.endpoints[containerId] ?? [])
      .map((endpoint) => this.networkById(endpoint.networkId)?.name)
      .filter((name): name is string => name !== undefined);
  }

  // ---- inside ---------------------------------------------------------------------------------------

  private views(): NetworkView[] {
    const builtin = (['host', 'none'] as const).map((name): NetworkView => ({
      Name: name,
      Id: BUILTIN_ID(name),
      Created: '2024-01-01T00:00:00Z',
      Scope: 'local',
      Driver: name === 'host' ? 'host' : 'null',
      EnableIPv4: false,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [] as unknown[] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: {},
      Options: {},
      Labels: {},
    }));
    const bridges = this.state.networks.map((network): NetworkView => ({
      Name: network.name,
      Id: network.id,
      Created: network.created,
      Scope: 'local',
      Driver: 'bridge',
      EnableIPv4: true,
      EnableIPv6: false,
      IPAM: {
        Driver: 'default',
        Options: null,
        Config: [
          {
            Subnet: network.subnet,
            Gateway: network.gateway,
            ...(network.ipRange ? { IPRange: network.ipRange } : {}),
          },
        ] as unknown[],
      },
      Internal: network.internal,
      Attachable: network.attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: Object.fromEntries(
        this.endpointsOn(network.id)
          .filter(([, endpoint]) => endpoint.address)
          .map(([containerId, endpoint]) => [
            containerId,
            {
              Name: this.containerNames(containerId) ?? '',
              EndpointID: endpoint.endpointId,
              MacAddress: endpoint.mac ?? '',
              IPv4Address: `${endpoint.address}/${network.subnet.split('/')[1]}`,
              IPv6Address: '',
            },
          ]),
      ),
      Options: network.isDefault
        ? {
            'com.docker.network.bridge.default_bridge': 'true',
            'com.docker.network.bridge.enable_icc': 'true',
            'com.docker.network.bridge.enable_ip_masquerade': 'true',
            'com.docker.network.bridge.name': network.bridge,
            'com.docker.network.driver.mtu': '1500',
          }
        : network.options,
      Labels: network.labels,
    }));
    return [
      ...bridges.filter((view) => view.Name === 'bridge'),
      ...builtin,
      ...bridges.filter((view) => view.Name !== 'bridge'),
    ];
  }

  private findNetwork(reference: string): NetworkRecord | undefined {
    const exact = this.state.networks.find((network) => network.name === reference || network.id === reference);
    if (exact) return exact;
    if (!/^[a-f0-9]+$/.test(reference)) return undefined;
    const matches = this.state.networks.filter((network) => network.id.startsWith(reference));
    if (matches.length > 1)
      throw invalidArgument(`network ${reference} is ambiguous (${matches.length} matches found on id prefix)`);
    return matches[0];
  }

  private resolve(reference: string): NetworkRecord {
    const network = this.findNetwork(networkName(reference));
    if (!network) {
      if (
        reference === 'host' ||
        reference === 'none' ||
        reference === BUILTIN_ID('host') ||
        reference === BUILTIN_ID('none')
      ) {
        throw forbidden(
          `network ${reference} is a built-in network: containers join it with --network ${reference} only`,
        );
      }
      throw notFound(`network ${reference} not found`);
    }
    return network;
  }

  private networkById(id: string): NetworkRecord | undefined {
    return this.state.networks.find((network) => network.id === id);
  }

  private endpointsOn(networkId: string): [string, EndpointRecord][] {
    return Object.entries(this.state.endpoints).flatMap(([containerId, endpoints]) =>
      endpoints
        .filter((endpoint) => endpoint.networkId === networkId)
        .map((endpoint) => [containerId, endpoint] as [string, EndpointRecord]),
    );
  }

  private newEndpoint(network: NetworkRecord, config: EndpointRequest | undefined): EndpointRecord {
    if (network.isDefault && config?.aliases.length) {
      throw invalidArgument('network-scoped aliases are only supported for user-defined networks');
    }
    const endpoint: EndpointRecord = {
      networkId: network.id,
      endpointId: randomBytes(32).toString('hex'),
      aliases: [...new Set(config?.aliases ?? [])],
    };
    if (config?.ipv4Address) {
      if (network.isDefault)
        throw invalidArgument('user specified IP address is supported on user defined networks only');
      claimAddress(planOf(network), config.ipv4Address, this.takenOn(network.id));
      endpoint.staticAddress = config.ipv4Address;
    }
    return endpoint;
  }

  private takenOn(networkId: string): Set<number> {
    const taken = new Set<number>();
    for (const [, endpoint] of this.endpointsOn(networkId)) {
      if (endpoint.address) taken.add(parseIpv4(endpoint.address, 'address'));
      if (endpoint.staticAddress) taken.add(parseIpv4(endpoint.staticAddress, 'address'));
    }
    return taken;
  }

  private assignAddress(network: NetworkRecord, endpoint: EndpointRecord, index: number): void {
    const plan = planOf(network);
    if (!endpoint.address) {
      const taken = this.takenOn(network.id);
      const address = endpoint.staticAddress
        ? parseIpv4(endpoint.staticAddress, 'address')
        : allocateAddress(plan, taken);
      endpoint.address = formatIpv4(address);
      endpoint.mac = macFor(address);
    }
    endpoint.interfaceName ??= `eth${index}`;
  }

  private async wireEndpoint(
    containerId: string,
    pid: number,
    network: NetworkRecord,
    endpoint: EndpointRecord,
    all: EndpointRecord[],
  ): Promise<void> {
    if (!endpoint.address) {
      const used = new Set(all.map((other) => other.interfaceName).filter(Boolean));
      let index = 0;
      while (used.has(`eth${index}`)) index++;
      this.assignAddress(network, endpoint, index);
    }
    if (!network.internal) await this.ensureForwarding();
    endpoint.hostInterface = `vsk${createHash('sha256').update(`${containerId}/${network.id}`).digest('hex').slice(0, 12)}`;
    // The default route goes through the first network that has a way out.
    const routed = all.find((candidate) => !this.networkById(candidate.networkId)?.internal);
    await this.options.host.connect({
      pid,
      bridge: network.bridge,
      hostInterface: endpoint.hostInterface,
      interfaceName: endpoint.interfaceName!,
      mac: endpoint.mac!,
      addressCidr: `${endpoint.address}/${network.subnet.split('/')[1]}`,
      ...(routed === endpoint && !network.internal ? { gateway: network.gateway } : {}),
    });
  }

  private async publish(
    containerId: string,
    requests: readonly PortRequest[],
    address: string,
  ): Promise<PortMapping[]> {
    const mappings: PortMapping[] = [];
    const proxies: PortProxy[] = [];
    try {
      for (const request of requests) {
        let proxy: PortProxy | undefined;
        let lastError: unknown;
        const candidates =
          request.hostPortFirst === 0
            ? [0]
            : Array.from(
                { length: request.hostPortLast - request.hostPortFirst + 1 },
                (_, i) => request.hostPortFirst + i,
              );
        for (const hostPort of candidates) {
          try {
            proxy = await openPortProxy({
              protocol: request.protocol,
              hostIp: request.hostIp,
              hostPort,
              containerAddress: address,
              containerPort: request.containerPort,
            });
            break;
          } catch (error) {
            lastError = error;
          }
        }
        if (!proxy) throw lastError;
        proxies.push(proxy);
        mappings.push({
          protocol: request.protocol,
          containerPort: request.containerPort,
          hostIp: request.hostIp,
          hostPort: proxy.hostPort,
        });
      }
    } catch (error) {
      for (const proxy of proxies) proxy.close();
      throw error;
    }
    this.proxies.set(containerId, proxies);
    return mappings;
  }

  private async openProxies(containerId: string, mappings: PortMapping[]): Promise<void> {
    const endpoint = (this.state.endpoints[containerId] ?? []).find((candidate) => candidate.address);
    if (!endpoint?.address) return;
    const proxies: PortProxy[] = [];
    for (const mapping of mappings) {
      proxies.push(
        await openPortProxy({
          protocol: mapping.protocol,
          hostIp: mapping.hostIp,
          hostPort: mapping.hostPort,
          containerAddress: endpoint.address,
          containerPort: mapping.containerPort,
        }),
      );
    }
    this.proxies.set(containerId, proxies);
  }

  private namesOf(containerId: string, endpoint: EndpointRecord): string[] {
    const name = this.containerNames(containerId);
    return [...new Set([...(name ? [name] : []), ...endpoint.aliases, containerId.slice(0, 12)])];
  }

  private async startDns(network: NetworkRecord): Promise<void> {
    if (network.isDefault || this.dns.has(network.id)) return;
    const subnet = parseSubnet(network.subnet, 'subnet');
    const server = new DnsServer(
      network.gateway,
      (name) => this.lookupName(network.id, name),
      async () => this.options.dnsUpstreams ?? resolvConfServers(await this.options.host.hostResolvConf()),
      this.options.logger,
      this.options.dnsPort ?? 53,
      (address) => {
        const parsed = tryParseIpv4(address);
        return parsed !== undefined && contains(subnet, parsed);
      },
    );
    try {
      await server.start();
      this.dns.set(network.id, server);
    } catch (error) {
      this.options.logger.warn(`networks: no name resolution on ${network.name}: ${errorMessage(error)}`);
    }
  }

  private lookupName(networkId: string, name: string): string[] | undefined {
    const found: string[] = [];
    for (const [containerId, endpoint] of this.endpointsOn(networkId)) {
      if (!endpoint.address) continue;
      const names = this.namesOf(containerId, endpoint).map((candidate) => candidate.toLowerCase());
      if (names.includes(name)) found.push(endpoint.address);
    }
    return found.length ? found : undefined;
  }

  private async dropNetwork(network: NetworkRecord): Promise<void> {
    this.dns.get(network.id)?.close();
    this.dns.delete(network.id);
    this.state.networks = this.state.networks.filter((candidate) => candidate.id !== network.id);
    for (const [containerId, endpoints] of Object.entries(this.state.endpoints)) {
      this.state.endpoints[containerId] = endpoints.filter((endpoint) => endpoint.networkId !== network.id);
    }
    await this.save();
    await this.applyFirewall();
    await this.options.host.deleteBridge(network.bridge);
    this.options.logger.info(`networks: removed ${network.name} and its bridge ${network.bridge}`);
  }

  /** Every subnet that a new network must not overlap: our networks and the host's routes that are not ours. */
  private async usedSubnets(): Promise<Ipv4Subnet[]> {
    const ours = this.state.networks.map((network) => parseSubnet(network.subnet, 'subnet'));
    const routes = routedSubnets(
      await this.options.host.routes(),
      this.state.networks.map((network) => network.bridge),
    );
    return [...ours, ...routes];
  }

  private async ensureDefaultNetwork(): Promise<void> {
    const existing = this.state.networks.find((network) => network.isDefault);
    if (existing) {
      if (
        existing.bridge !== this.options.bridgeName ||
        (this.options.bridgeSubnet && existing.subnet !== this.options.bridgeSubnet)
      ) {
        // A new bridge name or subnet: only while no container is on the old one.
        if (this.endpointsOn(existing.id).some(([, endpoint]) => endpoint.address)) {
          this.options.logger.warn(
            'networks: the default bridge changed in the options but containers still use the old one; keeping it',
          );
          return;
        }
        await this.options.host.deleteBridge(existing.bridge).catch(() => undefined);
        this.state.networks = this.state.networks.filter((network) => network !== existing);
      } else {
        return;
      }
    }
    const routes = routedSubnets(await this.options.host.routes(), [this.options.bridgeName]);
    const candidates = this.options.bridgeSubnet ? [this.options.bridgeSubnet] : DEFAULT_BRIDGE_SUBNETS;
    const free = candidates.find((candidate) => {
      const subnet = parseSubnet(candidate, 'bridge subnet');
      return !routes.some((route) => overlaps(route, subnet));
    });
    if (!free) {
      throw unavailable(
        `no subnet for the default bridge: ${candidates.join(', ')} overlap the host's routes; choose one with --bridge-subnet`,
      );
    }
    const plan = planAddresses({ subnet: free });
    this.state.networks.unshift({
      id: randomBytes(32).toString('hex'),
      name: 'bridge',
      created: new Date().toISOString(),
      bridge: this.options.bridgeName,
      subnet: formatSubnet(plan.subnet),
      gateway: formatIpv4(plan.gateway),
      internal: false,
      attachable: false,
      isDefault: true,
      labels: {},
      options: {},
    });
    await this.save();
    this.options.logger.info(`networks: the default bridge is ${this.options.bridgeName} with ${free}`);
  }

  private async ensureForwarding(): Promise<void> {
    if (this.forwardingChecked) return;
    this.forwardingChecked = true;
    if (await this.options.host.enableForwarding()) {
      this.options.logger.info(
        'networks: turned on net.ipv4.ip_forward, which bridge networks need to reach beyond the host',
      );
    }
  }

  private async applyFirewall(): Promise<void> {
    const ports: FirewallPort[] = [];
    for (const [containerId, mappings] of Object.entries(this.state.ports)) {
      // The same endpoint the loopback proxy relays to (openProxies): the first with an address.
      const endpoint = (this.state.endpoints[containerId] ?? []).find((candidate) => candidate.address);
      const network = endpoint && this.networkById(endpoint.networkId);
      if (!endpoint?.address || !network) continue;
      for (const mapping of mappings) {
        ports.push({ ...mapping, containerAddress: endpoint.address, bridge: network.bridge });
      }
    }
    const firewall: FirewallState = {
      networks: this.state.networks.map((network) => ({
        bridge: network.bridge,
        subnet: network.subnet,
        internal: network.internal,
      })),
      ports,
    };
    if (await this.options.host.hasNft()) {
      await this.options.host.applyNft(nftRuleset(this.options.table, firewall));
    } else if (await this.options.host.hasIptables()) {
      await this.options.host.applyIptables(
        iptablesRestoreScript(this.options.table, firewall),
        iptablesJumps(this.options.table),
      );
    } else {
      this.options.logger.warn('networks: neither nft nor iptables is installed: no NAT, published ports or isolation');
    }
  }

  private async save(options: { durable?: boolean } = {}): Promise<void> {
    await this.store.save(this.state, options);
  }

  /** One change of the state at a time. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const current = this.queue.catch(() => undefined).then(work);
    this.queue = current;
    return current;
  }
}

/** One network as `GET /networks` and `GET /networks/{id}` show it. */
export interface NetworkView {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: null; Config: unknown[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, unknown>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

function planOf(network: NetworkRecord): AddressPlan {
  return planAddresses({
    subnet: network.subnet,
    gateway: network.gateway,
    ...(network.ipRange ? { ipRange: network.ipRange } : {}),
  });
}

function gatewayCidr(network: NetworkRecord): string {
  return `${network.gateway}/${network.subnet.split('/')[1]}`;
}

/** `default` is the default bridge, as with dockerd. */
function networkName(mode: string): string {
  return mode === 'default' ? 'bridge' : mode;
}

function isBuiltin(name: string, options: Record<string, string>): boolean {
  return name === 'host' || name === 'none' || options['com.docker.network.bridge.default_bridge'] === 'true';
}

function resolvConfServers(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] === 'nameserver' && words[1])
    .map((words) => words[1]);
}

async function readHostFile(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '127.0.0.1\tlocalhost\n');
}

interface NetworkCreateRequest {
  name: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
}

/** The body of `POST /networks/create`, checked before anything is made. */
export function parseNetworkCreate(body: unknown): NetworkCreateRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalidArgument('the request body must be a JSON object');
  const input = body as Record<string, unknown>;
  const name = typeof input.Name === 'string' ? input.Name : '';
  if (!NAME.test(name) || name.length > 128) {
    throw invalidArgument(
      `invalid network name ${JSON.stringify(name)}: use letters, digits, _ . - (starting with a letter or digit)`,
    );
  }
  const driver = input.Driver ?? 'bridge';
  if (driver !== 'bridge' && driver !== '') {
    throw invalidArgument(`network driver ${JSON.stringify(driver)} is not supported: only bridge`);
  }
  if (input.EnableIPv6 === true) throw invalidArgument('IPv6 networks are not supported');
  const ipam = (input.IPAM ?? {}) as { Driver?: unknown; Config?: unknown };
  if (typeof ipam !== 'object') throw invalidArgument('invalid IPAM: expected an object');
  if (ipam.Driver !== undefined && ipam.Driver !== '' && ipam.Driver !== 'default') {
    throw invalidArgument(`IPAM driver ${JSON.stringify(ipam.Driver)} is not supported: only default`);
  }
  const configs = ipam.Config === undefined || ipam.Config === null ? [] : ipam.Config;
  if (!Array.isArray(configs)) throw invalidArgument('invalid IPAM.Config: expected a list');
  if (configs.length > 1) throw invalidArgument('only one IPAM.Config (one --subnet) is supported per network');
  const config = (configs[0] ?? {}) as Record<string, unknown>;
  const optional = (value: unknown, what: string) => {
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw invalidArgument(`invalid ${what}: expected a string`);
    return value;
  };
  const subnet = optional(config.Subnet, 'IPAM.Config.Subnet');
  if (subnet?.includes(':')) throw invalidArgument('IPv6 subnets are not supported');
  const strings = (value: unknown, what: string): Record<string, string> => {
    if (value === undefined || value === null) return {};
    if (
      typeof value !== 'object' ||
      Array.isArray(value) ||
      Object.values(value).some((item) => typeof item !== 'string')
    ) {
      throw invalidArgument(`invalid ${what}: expected an object of strings`);
    }
    return { ...(value as Record<string, string>) };
  };
  const flag = (value: unknown, what: string) => {
    if (value === undefined || value === null) return false;
    if (typeof value !== 'boolean') throw invalidArgument(`invalid ${what}: expected true or false`);
    return value;
  };
  const request: NetworkCreateRequest = {
    name,
    internal: flag(input.Internal, 'Internal'),
    attachable: flag(input.Attachable, 'Attachable'),
    labels: strings(input.Labels, 'Labels'),
    options: strings(input.Options, 'Options'),
  };
  const gateway = optional(config.Gateway, 'IPAM.Config.Gateway');
  const ipRange = optional(config.IPRange, 'IPAM.Config.IPRange');
  if (subnet) request.subnet = subnet;
  if (gateway) request.gateway = gateway;
  if (ipRange) request.ipRange = ipRange;
  if (subnet) planAddresses({ subnet, gateway, ipRange });
  return request;
}

/**
 * Uninstall, with the agent stopped and its containers gone: removes the bridges the network state
 * files under `root` name (the engine's own and, with `--userns-remap`, the remapped store's) plus
 * the default bridge, and the engine's nftables table or iptables chains. Interfaces the state does
 * not name are left alone. Resolves with the bridges that were there and are gone.
 */
export async function removeHostNetworks(options: {
  root: string;
  host: NetworkHost;
  bridgeName: string;
  table: string;
}): Promise<string[]> {
  checkTableName(options.table);
  const stores = [options.root];
  const entries = await readdir(options.root, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    // A remapped engine keeps its whole store under <root>/<uid>.<gid>.
    if (entry.isDirectory() && /^\d+\.\d+$/.test(entry.name)) stores.push(join(options.root, entry.name));
  }
  const bridges = new Set([options.bridgeName]);
  for (const store of stores) {
    const path = join(store, 'networks', 'state.json');
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (text === undefined) continue;
    const state = JSON.parse(text) as Partial<NetworkState>;
    for (const network of state.networks ?? []) {
      // A name that is no interface name is not handed to `ip`.
      if (/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$/.test(network.bridge)) bridges.add(network.bridge);
    }
  }
  const present: string[] = [];
  for (const bridge of bridges) if (await options.host.linkExists(bridge)) present.push(bridge);
  await removeFromHost(options.host, [...bridges], options.table);
  return present;
}

async function removeFromHost(host: NetworkHost, bridges: readonly string[], table: string): Promise<void> {
  for (const bridge of bridges) await host.deleteBridge(bridge);
  if (await host.hasNft()) {
    await host.applyNft(nftDeleteTable(table));
  } else if (await host.hasIptables()) {
    const chains = iptablesChains(table);
    await host.removeIptables(iptablesJumps(table), [
      { table: 'nat', chain: chains.postrouting },
      { table: 'nat', chain: chains.prerouting },
      { table: 'nat', chain: chains.output },
      { table: 'nat', chain: chains.publish },
      { table: 'filter', chain: chains.forward },
    ]);
  }
}
