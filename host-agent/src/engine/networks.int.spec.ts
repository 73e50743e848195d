import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEngine } from '../../../test/support/test-engine.js';

const run = promisify(execFile);

interface Inspected {
  NetworkSettings: {
    IPAddress: string;
    Gateway: string;
    MacAddress: string;
    Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
    Networks: Record<
      string,
      {
        IPAddress: string;
        Gateway: string;
        NetworkID: string;
        EndpointID: string;
        Aliases: string[] | null;
        MacAddress: string;
      }
    >;
  };
  HostsPath: string;
}

/** A line over TCP to 127.0.0.1:port, and what comes back before the other side closes. */
function tcpExchange(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.end(line);
  });
}

function udpExchange(port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no UDP answer within 5 s'));
    }, 5000);
    socket.on('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply.toString());
    });
    socket.send(message, port, '127.0.0.1');
  });
}

async function nftTable(table: string): Promise<string> {
  return (await run('nft', ['list', 'table', 'ip', table]).catch(() => ({ stdout: '' }))).stdout;
}

async function links(): Promise<string> {
  return (await run('ip', ['-br', 'link'])).stdout;
}

/**
 * "The outside world" for the tests: a network namespace of the test's own behind a veth pair on
 * the last /30 of the engine's pool, with busybox's nc answering on port 7003. Containers reach it
 * only through the host's forwarding (and the engine's NAT), never through a bridge of the engine.
 */
async function startOutside(
  pool: string,
): Promise<{ address: string; routeBack: () => Promise<void>; stop: () => Promise<void> }> {
  const [a, b, c] = pool.split('.').map(Number);
  const prefix = `${a}.${b}.${c + 15}`;
  const suffix = Math.random().toString(16).slice(2, 8);
  const namespace = `skiff-test-outside-${suffix}`;
  const hostSide = `sko${suffix}`;
  await run('ip', ['netns', 'add', namespace]);
  await run('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
  await run('ip', ['addr', 'add', `${prefix}.253/30`, 'dev', hostSide]);
  await run('ip', ['link', 'set', hostSide, 'up']);
  const inside = (...args: string[]) => run('ip', ['netns', 'exec', namespace, ...args]);
  await inside('ip', 'addr', 'add', `${prefix}.254/30`, 'dev', 'eth0');
  await inside('ip', 'link', 'set', 'eth0', 'up');
  await inside('ip', 'link', 'set', 'lo', 'up');
  const server = execFile('ip', [
    'netns',
    'exec',
    namespace,
    '/bin/busybox',
    'nc',
    '-ll',
    '-p',
    '7003',
    '-e',
    'echo',
    'outside',
  ]);
  return {
    address: `${prefix}.254`,
    /** From now on the outside can answer un-NATed addresses too. */
    routeBack: async () => {
      await inside('ip', 'route', 'add', 'default', 'via', `${prefix}.253`);
    },
    stop: async () => {
      server.kill();
      await run('ip', ['link', 'del', hostSide]).catch(() => undefined);
      await run('ip', ['netns', 'del', namespace]).catch(() => undefined);
    },
  };
}

/** Until `check` passes (a container's server may need a moment to listen). */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

describe('container networks', () => {
  let fixture: TestEngine;
  const docker = (...args: string[]) => fixture.docker(...args);
  const inspect = async (name: string) => (JSON.parse(await docker('inspect', name)) as Inspected[])[0];
  /** The first three octets of the n-th /24 of this engine's own pool (a /20), so parallel runs never clash. */
  const subnet = (n: number) => {
    const [a, b, c] = fixture.network.pool.split('.').map(Number);
    return `${a}.${b}.${c + n}`;
  };

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true });
  });
  afterAll(async () => {
    const table = fixture?.network.table;
    const bridge = fixture?.network.bridgeName;
    await fixture?.close();
    // Nothing of the engine's is left on the host.
    if (table) expect(await nftTable(table)).toBe('');
    if (bridge) expect(await links()).not.toContain(bridge);
  });

  it('lists the default bridge with host and none, with filters', async () => {
    expect(await docker('network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}')).toBe(
      'bridge bridge local\nhost host local\nnone null local',
    );
    expect(await docker('network', 'ls', '--filter', 'driver=null', '--format', '{{.Name}}')).toBe('none');
    expect(await docker('network', 'ls', '--filter', 'type=custom', '-q')).toBe('');
    const refused = await fixture.dockerAll('network', 'ls', '--filter', 'colour=blue');
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/invalid filter 'colour'/) });
    const bridge = JSON.parse(await docker('network', 'inspect', 'bridge'))[0] as {
      IPAM: { Config: { Subnet: string; Gateway: string }[] };
      Options: Record<string, string>;
    };
    expect(bridge.IPAM.Config[0].Subnet).toBe(fixture.network.bridgeSubnet);
    expect(bridge.Options['com.docker.network.bridge.name']).toBe(fixture.network.bridgeName);
  });

  it('puts docker run on the default bridge: address, gateway, route and NetworkSettings as Docker fills them', async () => {
    await docker('run', '-d', '--name', 'b1', 'busybox', 'nc', '-ll', '-p', '7000', '-e', 'echo', 'from-b1');
    const settings = (await inspect('b1')).NetworkSettings;
    const subnetPrefix = fixture.network.bridgeSubnet.split('.').slice(0, 3).join('.');
    expect(settings.IPAddress.startsWith(`${subnetPrefix}.`)).toBe(true);
    expect(settings.Gateway).toBe(`${subnetPrefix}.1`);
    expect(settings.MacAddress).toMatch(/^02:42:/);
    expect(settings.Networks.bridge).toMatchObject({ IPAddress: settings.IPAddress, Gateway: settings.Gateway });
    expect(settings.Networks.bridge.EndpointID).toMatch(/^[a-f0-9]{64}$/);
    const inside = await docker('run', '--rm', 'busybox', 'sh', '-c', 'ip -4 route; ip -4 addr show eth0');
    expect(inside).toMatch(new RegExp(`default via ${subnetPrefix}\\.1 dev eth0`));
    // Another container on the bridge reaches b1 by its address, and so does the host.
    expect(await docker('run', '--rm', 'busybox', 'sh', '-c', `nc ${settings.IPAddress} 7000 </dev/null`)).toBe(
      'from-b1',
    );
    const fromHost = await new Promise<string>((resolve, reject) => {
      const socket = createConnection({ host: settings.IPAddress, port: 7000 });
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text.trim()));
      socket.on('error', reject);
      socket.end();
    });
    expect(fromHost).toBe('from-b1');
    // IPv4 only: neither the bridge nor the host end of b1's veth has IPv6, so
    // no link-local address turns up on the host a second after each container starts.
    const bridge = fixture.network.bridgeName;
    const ports = (await run('ip', ['-br', 'link', 'show', 'master', bridge])).stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => line.split(/[\s@]/)[0]);
    expect(ports).toEqual([expect.stringMatching(/^vsk/)]);
    for (const name of [bridge, ...ports]) {
      expect((await readFile(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, 'utf8')).trim()).toBe('1');
      expect((await run('ip', ['-6', 'addr', 'show', 'dev', name])).stdout).toBe('');
    }
    const network = JSON.parse(await docker('network', 'inspect', 'bridge'))[0] as {
      Containers: Record<string, { Name: string; IPv4Address: string }>;
    };
    expect(Object.values(network.Containers)).toContainEqual(
      expect.objectContaining({ Name: 'b1', IPv4Address: `${settings.IPAddress}/24` }),
    );
    await docker('rm', '-f', 'b1');
    // The address went back with the container.
    expect(await docker('network', 'inspect', 'bridge', '--format', '{{len .Containers}}')).toBe('0');
  });

  it('writes /etc/hosts, /etc/resolv.conf and /etc/hostname with --hostname, --add-host, --dns and --dns-search', async () => {
    const output = await docker(
      'run',
      '--rm',
      '--hostname',
      'web1',
      '--add-host',
      'db.example:10.9.9.9',
      '--dns',
      '10.0.0.53',
      '--dns-search',
      'corp.example',
      'busybox',
      'sh',
      '-c',
      'cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; cat /etc/hostname; hostname',
    );
    const [hosts, resolv, hostname] = output.split('---\n');
    expect(hosts).toMatch(/^127\.0\.0\.1\tlocalhost$/m);
    expect(hosts).toMatch(/^10\.9\.9\.9\tdb\.example$/m);
    expect(hosts).toMatch(/^10\.\d+\.\d+\.\d+\tweb1$/m);
    expect(resolv).toBe('nameserver 10.0.0.53\nsearch corp.example\n');
    expect(hostname).toBe('web1\nweb1');
    const refused = await fixture.dockerAll('run', '--rm', '--add-host', 'nohost', 'busybox', 'true');
    expect(refused.code).not.toBe(0);
  });

  it('keeps --network none and host as they were, and shares a namespace with container:<id>', async () => {
    expect(await docker('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net')).toBe('lo');
    // On the host's network: the host's own resolv.conf and hostname.
    const hostResolv = (await readFile('/etc/resolv.conf', 'utf8')).trim();
    expect(await docker('run', '--rm', '--network', 'host', 'busybox', 'cat', '/etc/resolv.conf')).toBe(hostResolv);
    expect(await docker('run', '--rm', '--network', 'host', 'busybox', 'cat', '/etc/hostname')).toBe(hostname());
    await docker('run', '-d', '--name', 'owner', 'busybox', 'sleep', '3600');
    const owner = (await inspect('owner')).NetworkSettings.IPAddress;
    const joined = await docker(
      'run',
      '--rm',
      '--network',
      'container:owner',
      'busybox',
      'ip',
      '-4',
      'addr',
      'show',
      'eth0',
    );
    expect(joined).toContain(`inet ${owner}/`);
    const missing = await fixture.dockerAll('run', '--rm', '--network', 'container:nosuch', 'busybox', 'true');
    expect(missing.stderr).toMatch(/No such container: nosuch/);
    await docker('rm', '-f', 'owner');
  });

  it('runs user networks: by name between containers, isolated from other networks', async () => {
    await docker('network', 'create', '--subnet', `${subnet(10)}.0/24`, '--label', 'team=a', 'front');
    await docker('network', 'create', 'back');
    await docker(
      'run',
      '-d',
      '--name',
      'api',
      '--network',
      'front',
      '--network-alias',
      'service-a',
      'busybox',
      'nc',
      '-ll',
      '-p',
      '7001',
      '-e',
      'echo',
      'api-here',
    );
    await docker(
      'run',
      '-d',
      '--name',
      'other',
      '--network',
      'back',
      'busybox',
      'nc',
      '-ll',
      '-p',
      '7001',
      '-e',
      'echo',
      'other-here',
    );
    const api = (await inspect('api')).NetworkSettings.Networks.front;
    expect(api.IPAddress).toBe(`${subnet(10)}.2`);
    expect(api.Aliases).toContain('service-a');
    const other = (await inspect('other')).NetworkSettings.Networks.back.IPAddress;

    // By name and by alias through the embedded DNS server (busybox's own resolver; then nc to the address).
    const script = (name: string) =>
      `addr=$(nslookup ${name} | awk '/^Name:/ {n=1} n && /^Address/ {print $NF; exit}'); echo "$addr"; nc -w 2 "$addr" 7001 </dev/null`;
    expect(await docker('run', '--rm', '--network', 'front', 'busybox', 'sh', '-c', script('api'))).toBe(
      `${api.IPAddress}\napi-here`,
    );
    expect(await docker('run', '--rm', '--network', 'front', 'busybox', 'sh', '-c', script('service-a'))).toBe(
      `${api.IPAddress}\napi-here`,
    );
    // A name of another network does not resolve, and its address cannot be reached.
    const foreignName = await fixture.dockerAll('run', '--rm', '--network', 'front', 'busybox', 'nslookup', 'other');
    expect(foreignName.code).not.toBe(0);
    // Nor does front's DNS server answer a container of another network that asks it directly.
    const frontDns = `${subnet(10)}.1`;
    const askedFromBack = await fixture.dockerAll(
      'run',
      '--rm',
      '--network',
      'back',
      'busybox',
      'nslookup',
      'api',
      frontDns,
    );
    expect(askedFromBack.stdout).not.toContain(api.IPAddress);
    expect(askedFromBack.code).not.toBe(0);
    const foreign = await fixture.dockerAll(
      'run',
      '--rm',
      '--network',
      'front',
      'busybox',
      'sh',
      '-c',
      `nc -w 2 ${other} 7001 </dev/null`,
    );
    expect(foreign.stdout).not.toContain('other-here');
    expect(foreign.code).not.toBe(0);

    expect(await docker('network', 'ls', '--filter', 'label=team=a', '--format', '{{.Name}}')).toBe('front');
    expect(await docker('network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}')).toBe('back\nfront');
    const inUse = await fixture.dockerAll('network', 'rm', 'front');
    expect(inUse.stderr).toMatch(/has active endpoints/);
    await docker('rm', '-f', 'api', 'other');
    await docker('network', 'rm', 'front', 'back');
    expect(await docker('network', 'ls', '--filter', 'type=custom', '-q')).toBe('');
  });

  it('connects and disconnects with aliases and a static --ip, as compose does before start', async () => {
    await docker('network', 'create', '--subnet', `${subnet(11)}.0/24`, 'mesh');
    await docker(
      'create',
      '--name',
      'node',
      '--network',
      'mesh',
      'busybox',
      'nc',
      '-ll',
      '-p',
      '7002',
      '-e',
      'echo',
      'node-here',
    );
    await docker('network', 'disconnect', 'mesh', 'node');
    await docker('network', 'connect', '--alias', 'node-alias', '--ip', `${subnet(11)}.77`, 'mesh', 'node');
    await docker('start', 'node');
    const node = (await inspect('node')).NetworkSettings.Networks.mesh;
    expect(node.IPAddress).toBe(`${subnet(11)}.77`);
    expect(node.Aliases).toEqual(['node-alias']);
    const taken = await fixture.dockerAll(
      'run',
      '--rm',
      '--network',
      'mesh',
      '--ip',
      `${subnet(11)}.77`,
      'busybox',
      'true',
    );
    expect(taken.stderr).toMatch(/already in use/);
    // A running container joins a second network at once.
    await docker('run', '-d', '--name', 'roamer', 'busybox', 'sleep', '3600');
    await docker('network', 'connect', 'mesh', 'roamer');
    expect(await docker('exec', 'roamer', 'sh', '-c', `nc -w 2 ${subnet(11)}.77 7002 </dev/null`)).toBe('node-here');
    await docker('network', 'disconnect', 'mesh', 'roamer');
    expect(await docker('exec', 'roamer', 'ls', '/sys/class/net')).toBe('eth0\nlo');
    await docker('rm', '-f', 'node', 'roamer');
    expect(await docker('network', 'prune', '-f')).toContain('mesh');
  });

  it('gives an --internal network no way out, and NATs the way out of the others', async () => {
    const outside = await startOutside(fixture.network.pool);
    try {
      // The default bridge and a user network get out (masqueraded: the outside has no route back).
      const reach = `nc -w 2 ${outside.address} 7003 </dev/null`;
      expect(await eventually(() => docker('run', '--rm', 'busybox', 'sh', '-c', reach))).toBe('outside');
      await docker('network', 'create', 'open');
      expect(await docker('run', '--rm', '--network', 'open', 'busybox', 'sh', '-c', reach)).toBe('outside');
      await docker('network', 'rm', 'open');

      await outside.routeBack();
      await docker('network', 'create', '--internal', 'sealed');
      expect(await docker('run', '--rm', '--network', 'sealed', 'busybox', 'ip', '-4', 'route')).not.toMatch(/default/);
      // Even with a route through the gateway added by hand, the engine's firewall drops what leaves.
      const gateway = await docker('network', 'inspect', 'sealed', '--format', '{{(index .IPAM.Config 0).Gateway}}');
      // prettier-ignore
      const attempt = await fixture.dockerAll(
        'run', '--rm', '--cap-add', 'NET_ADMIN', '--network', 'sealed', 'busybox', 'sh', '-c',
        `ip route add default via ${gateway} && ${reach}`,
      );
      expect(attempt.stdout).not.toContain('outside');
      expect(attempt.code).not.toBe(0);
      await docker('network', 'rm', 'sealed');
    } finally {
      await outside.stop();
    }
  });

  it('publishes TCP and UDP ports on 127.0.0.1, ranges and -P, and says so when a port is taken', async () => {
    // busybox's nc has no UDP: the host's python3 (its /usr bound read-only) answers UDP.
    const udpServer = [
      'import socket',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      "s.bind(('', 7101))",
      'while True:',
      '  data, peer = s.recvfrom(100)',
      "  s.sendto(b'udp-answer\\n', peer)",
    ].join('\n');
    // prettier-ignore
    await docker(
      'run', '-d', '--name', 'pub', '-p', '127.0.0.1::7100', '-p', '127.0.0.1::7101/udp', '--expose', '7102', '-P',
      '-v', '/usr:/usr:ro', '-v', '/usr/lib:/lib:ro', '-v', '/usr/lib64:/lib64:ro', '-e', `UDP_SERVER=${udpServer}`,
      'busybox', 'sh', '-c',
      'nc -ll -p 7100 -e echo tcp-answer & /usr/bin/python3 -c "$UDP_SERVER" & nc -ll -p 7102 -e echo all-answer & wait',
    );
    const ports = (await inspect('pub')).NetworkSettings.Ports;
    const tcp = Number(ports['7100/tcp']?.[0].HostPort);
    const udp = Number(ports['7101/udp']?.[0].HostPort);
    const all = Number(ports['7102/tcp']?.[0].HostPort);
    expect(tcp).toBeGreaterThan(0);
    expect(await eventually(() => tcpExchange(tcp, 'hello\n'))).toBe('tcp-answer\n');
    expect(await eventually(() => udpExchange(udp, 'hello\n'))).toBe('udp-answer\n');
    expect(await eventually(() => tcpExchange(all, ''))).toBe('all-answer\n');
    expect(await docker('port', 'pub', '7100')).toBe(`127.0.0.1:${tcp}`);
    expect(await nftTable(fixture.network.table)).toContain(`dport ${all} dnat to`);

    // A port the host already uses: a clear error at start, and nothing left running.
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    const conflict = await fixture.dockerAll(
      'run',
      '-d',
      '--name',
      'clash',
      '-p',
      `127.0.0.1:${taken}:80`,
      'busybox',
      'sleep',
      '60',
    );
    blocker.close();
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toMatch(new RegExp(`port ${taken}/tcp on 127.0.0.1: the port is already allocated`));
    expect(await docker('inspect', 'clash', '--format', '{{.State.Running}}')).toBe('false');

    // A range starting at a taken port: the engine takes the first free one (ports after `tcp` may be
    // in use by other processes on this machine, so the test looks for that first free one itself).
    const free = await firstFreePortAfter(tcp);
    const ranged = await docker(
      'run',
      '-d',
      '--name',
      'ranged',
      '-p',
      `127.0.0.1:${tcp}-${free}:80`,
      'busybox',
      'sleep',
      '60',
    );
    expect(ranged).toMatch(/^[a-f0-9]{64}$/);
    expect(await docker('port', 'ranged', '80')).toBe(`127.0.0.1:${free}`);
    await docker('rm', '-f', 'pub', 'clash', 'ranged');
    expect(await nftTable(fixture.network.table)).not.toContain('dnat to');
  });

  it('moves published ports to the network a container keeps when it is disconnected from the first', async () => {
    await docker('network', 'create', 'first');
    await docker('network', 'create', 'second');
    // prettier-ignore
    await docker('run', '-d', '--name', 'moving', '--network', 'first', '-p', '7200', 'busybox',
      'nc', '-ll', '-p', '7200', '-e', 'echo', 'moved');
    const port = Number((await inspect('moving')).NetworkSettings.Ports['7200/tcp']?.[0].HostPort);
    expect(await eventually(() => tcpExchange(port, ''))).toBe('moved\n');
    await docker('network', 'connect', 'second', 'moving');
    const networks = (await inspect('moving')).NetworkSettings.Networks;
    const [before, after] = [networks.first?.IPAddress, networks.second?.IPAddress];
    expect(await nftTable(fixture.network.table)).toContain(`dnat to ${before}:7200`);

    await docker('network', 'disconnect', 'first', 'moving');
    const rules = await nftTable(fixture.network.table);
    expect(rules).toContain(`dnat to ${after}:7200`);
    expect(rules).not.toContain(`dnat to ${before}:`);
    expect(await eventually(() => tcpExchange(port, ''))).toBe('moved\n');
    expect(await docker('port', 'moving', '7200')).toBe(`0.0.0.0:${port}`);
    await docker('rm', '-f', 'moving');
    await docker('network', 'rm', 'first', 'second');
  });

  it('keeps rules, addresses and published ports across an agent restart, without duplicates', async () => {
    await docker('network', 'create', 'kept');
    await docker(
      'run',
      '-d',
      '--name',
      'survivor',
      '--network',
      'kept',
      '-p',
      '127.0.0.1::7200',
      'busybox',
      'nc',
      '-ll',
      '-p',
      '7200',
      '-e',
      'echo',
      'still-here',
    );
    const port = Number((await inspect('survivor')).NetworkSettings.Ports['7200/tcp']?.[0].HostPort);
    expect(await eventually(() => tcpExchange(port, ''))).toBe('still-here\n');
    const before = await nftTable(fixture.network.table);
    await fixture.restart();
    expect(await nftTable(fixture.network.table)).toBe(before);
    expect(await eventually(() => tcpExchange(port, ''))).toBe('still-here\n');
    expect(await docker('run', '--rm', '--network', 'kept', 'busybox', 'nslookup', 'survivor')).toMatch(
      /Address: 10\./,
    );
    await docker('rm', '-f', 'survivor');
    await docker('network', 'rm', 'kept');
  });

  it('refuses bad network requests with a clear message', async () => {
    const bad = await fixture.dockerAll('network', 'create', '--subnet', `${subnet(12)}.1/24`, 'badnet');
    expect(bad.stderr).toMatch(/host bits set/);
    const driver = await fixture.dockerAll('network', 'create', '--driver', 'overlay', 'x');
    expect(driver.stderr).toMatch(/only bridge/);
    const builtin = await fixture.dockerAll('network', 'rm', 'bridge');
    expect(builtin.stderr).toMatch(/pre-defined network/);
    const missing = await fixture.dockerAll('network', 'inspect', 'backend');
    expect(missing.stderr).toMatch(/network backend not found/);
    const unknown = await fixture.dockerAll('run', '--rm', '--network', 'nosuchnet', 'busybox', 'true');
    expect(unknown.stderr).toMatch(/network nosuchnet not found/);
  });
});

/** The first port after `port` that nothing listens on at 127.0.0.1 (TCP), within 50 ports. */
async function firstFreePortAfter(port: number): Promise<number> {
  for (let candidate = port + 1; candidate <= Math.min(port + 50, 65535); candidate++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(candidate, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return candidate;
  }
  throw new Error(`no free port within 50 after ${port}`);
}
