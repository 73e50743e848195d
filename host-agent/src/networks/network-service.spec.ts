import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { type NetworkedContainer, NetworkService } from './network-service.js';
import { RecordingNetworkHost } from './recording-network-host.js';

const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);

describe(NetworkService.name, () => {
  let root: string;
  let host: RecordingNetworkHost;
  const open = (options: { bridgeSubnet?: string } = {}) =>
    NetworkService.open({
      root,
      logger: createLogger({ level: 'error', write: () => undefined }),
      host,
      bridgeName: 'skiff0',
      pool: '172.24.0.0/22',
      table: 'skiff',
      ...options,
    });
  const container = (id: string, overrides: Partial<NetworkedContainer> = {}): NetworkedContainer => ({
    id,
    name: `c-${id[0]}`,
    hostname: id.slice(0, 12),
    domainname: '',
    networkMode: 'default',
    dns: [],
    dnsSearch: [],
    dnsOptions: [],
    extraHosts: [],
    publish: [],
    directory: root,
    ...overrides,
  });
  const start = async (service: NetworkService, networked: NetworkedContainer, pid = 4242) => {
    await service.register(
      { id: networked.id, name: networked.name, networkMode: networked.networkMode, endpoints: {} },
      () => undefined,
    );
    await service.prepare(networked, () => undefined);
    await service.wire(networked, pid);
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'skiff-networks-'));
    host = new RecordingNetworkHost();
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('makes the default bridge on the first free subnet, skipping the host routes', async () => {
    host.routeTable += '172.31.0.0/16 via 192.0.2.9 dev eth0\n';
    const service = await open();
    expect(host.bridges.get('skiff0')).toBe('172.30.0.1/16');
    expect(service.inspect('bridge').IPAM.Config).toEqual([{ Subnet: '172.30.0.0/16', Gateway: '172.30.0.1' }]);
    service.close();
  });

  it('refuses a configured bridge subnet that the host already routes', async () => {
    host.routeTable += '10.1.0.0/16 via 192.0.2.9 dev eth0\n';
    await expect(open({ bridgeSubnet: '10.1.2.0/24' })).rejects.toThrow(/overlap the host's routes/);
  });

  it('hands out addresses at start and takes them back at exit, turning on forwarding once', async () => {
    const service = await open();
    await start(service, container(ID_A));
    await start(service, container(ID_B), 4343);
    const settings = service.settings({ id: ID_B, networkMode: 'default', running: true, pid: 4343 });
    expect(settings).toMatchObject({ IPAddress: '172.31.0.3', Gateway: '172.31.0.1', MacAddress: '02:42:ac:1f:00:03' });
    expect([...host.links.values()].map((link) => [link.pid, link.addressCidr, link.gateway])).toEqual([
      [4242, '172.31.0.2/16', '172.31.0.1'],
      [4343, '172.31.0.3/16', '172.31.0.1'],
    ]);
    expect(host.forwardingEnabled).toBe(true);
    await service.release(ID_A);
    expect(service.settings({ id: ID_A, networkMode: 'default', running: false, pid: 0 }).IPAddress).toBe('');
    await start(service, container('c'.repeat(64)), 4444);
    expect([...host.links.values()].at(-1)?.addressCidr).toBe('172.31.0.2/16');
    service.close();
  });

  it('keeps its state across a restart: same addresses, same rules, nothing doubled', async () => {
    const first = await open();
    await first.create({ Name: 'backend', Labels: { team: 'a' } });
    await start(
      first,
      container(ID_A, {
        networkMode: 'backend',
        publish: [{ protocol: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortFirst: 0, hostPortLast: 0 }],
      }),
    );
    const rules = host.ruleset;
    first.close();
    const second = await open();
    expect(host.ruleset).toBe(rules);
    expect(
      second.settings({ id: ID_A, networkMode: 'backend', running: true, pid: 4242 }).Networks.backend,
    ).toMatchObject({
      IPAddress: '172.24.0.2',
    });
    expect(second.list().map((view) => view.Name)).toEqual(['bridge', 'host', 'none', 'backend']);
    second.close();
  });

  it('writes /etc/hosts, resolv.conf and hostname, pointing user networks at the embedded DNS server', async () => {
    const service = await open();
    await service.create({ Name: 'backend' });
    const networked = container(ID_A, { networkMode: 'backend', hostname: 'web', extraHosts: ['db:10.9.9.9'] });
    await service.register({ id: ID_A, name: 'web', networkMode: 'backend', endpoints: {} }, () => undefined);
    const prepared = await service.prepare(networked, () => undefined);
    expect(prepared.wire).toBe(true);
    expect(prepared.mounts.map((mount) => mount.target)).toEqual(['/etc/hosts', '/etc/resolv.conf', '/etc/hostname']);
    expect(await readFile(join(root, 'hosts'), 'utf8')).toMatch(/^10\.9\.9\.9\tdb\n172\.24\.0\.2\tweb\n$/m);
    expect(await readFile(join(root, 'resolv.conf'), 'utf8')).toBe('nameserver 172.24.0.1\noptions ndots:0\n');
    service.close();
  });

  it('refuses a second network on the same subnet, a taken name, and removing one in use', async () => {
    const service = await open();
    await service.create({ Name: 'one', IPAM: { Config: [{ Subnet: '10.50.0.0/24' }] } });
    await expect(service.create({ Name: 'two', IPAM: { Config: [{ Subnet: '10.50.0.128/25' }] } })).rejects.toThrow(
      /Pool overlaps/,
    );
    await expect(service.create({ Name: 'one' })).rejects.toThrow(/already exists/);
    // A bridge name must be an interface name that is also safe under /proc/sys and in `ip`'s arguments.
    for (const bridge of ['..', '-br', 'a-name-too-long-for-linux']) {
      await expect(
        service.create({ Name: 'three', Options: { 'com.docker.network.bridge.name': bridge } }),
      ).rejects.toThrow(`invalid or taken bridge name ${JSON.stringify(bridge)}`);
    }
    await service.register({ id: ID_A, name: 'x', networkMode: 'one', endpoints: {} }, () => undefined);
    await expect(service.remove('one')).rejects.toThrow(/has active endpoints/);
    await service.forget(ID_A);
    await service.remove('one');
    expect(host.ruleset).not.toContain('10.50.0.0/24');
    service.close();
  });

  it('says which network is missing, and refuses aliases on the default bridge', async () => {
    const service = await open();
    await expect(
      service.register({ id: ID_A, name: 'x', networkMode: 'nowhere', endpoints: {} }, () => undefined),
    ).rejects.toThrow(/network nowhere not found/);
    await expect(
      service.register(
        { id: ID_A, name: 'x', networkMode: 'bridge', endpoints: { bridge: { aliases: ['y'], ipv4Address: '' } } },
        () => undefined,
      ),
    ).rejects.toThrow(/only supported for user-defined networks/);
    service.close();
  });
});
