import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { uniqueNetwork } from '../../support/unique-network.js';
import { type DockerApiEngine, dockerRunCommand } from './contender.js';
import { DaemonProcess } from './daemon-process.js';
import { DockerdFirewall } from './dockerd-firewall.js';
import { makePrivateDir, removePrivateDir } from './private-dir.js';
import { engineProcesses } from './process-memory.js';
import { runChecked } from './timed-command.js';

const DOCKER_PROXY = '/usr/sbin/docker-proxy';

/**
 * Debian's dockerd as PrivateDockerd runs it (private data root, exec root, socket, its own
 * containerd), but with its default bridge network on: a Linux bridge of the benchmark's own, never
 * docker0 (a unique name and a /24 no host route uses; the benchmark makes it, `--bridge` names it),
 * iptables rules for it as dockerd sets them by default (NAT, the published ports' DNAT) and
 * docker-proxy for 127.0.0.1. It leaves ip_forward alone (`--ip-forward=false`: otherwise dockerd
 * turns the host's FORWARD policy to DROP when it finds forwarding off). `close` removes the bridge,
 * the iptables rules and chains, and turns back any sysctl that changed (DockerdFirewall).
 */
export class BridgedDockerd implements DockerApiEngine {
  readonly label = 'dockerd';
  /** What `close` removed from the host's network (a bridge, iptables rules and chains, sysctls turned back). */
  readonly removed: string[] = [];

  private constructor(
    readonly directory: string,
    readonly socketPath: string,
    readonly bridgeName: string,
    readonly bridgeSubnet: string,
    private readonly firewall: DockerdFirewall,
    private readonly containerd: DaemonProcess,
    private readonly dockerd: DaemonProcess | undefined,
    private readonly dockerCli: string,
  ) {}

  /** `avoidSubnets`: subnets the other engines use (made since uniqueNetwork looked at the routes). */
  static async start(dockerCli: string, avoidSubnets: readonly string[] = []): Promise<BridgedDockerd> {
    const firewall = await DockerdFirewall.before();
    let network = uniqueNetwork();
    while (avoidSubnets.includes(network.bridgeSubnet)) network = uniqueNetwork();
    // dockerd makes only a bridge named docker0 itself; one of another name must exist, with its address.
    const bridgeName = network.bridgeName.replace(/^skt/, 'skd');
    const gateway = network.bridgeSubnet.replace(/0\/24$/, '1/24');
    const directory = await makePrivateDir('skiff-bench-dockerd-bridge-');
    const containerdDir = join(directory, 'containerd');
    await mkdir(containerdDir);
    const containerdSocket = join(containerdDir, 'containerd.sock');
    const containerdConfig = join(containerdDir, 'config.toml');
    await writeFile(
      containerdConfig,
      [
        'version = 2',
        `root = "${containerdDir}/root"`,
        `state = "${containerdDir}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${containerdSocket}"`,
        '[ttrpc]',
        `  address = "${containerdSocket}.ttrpc"`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${containerdDir}/opt"`,
        '',
      ].join('\n'),
    );
    const containerd = DaemonProcess.start(
      'containerd',
      ['containerd', '--config', containerdConfig],
      join(directory, 'containerd.log'),
    );
    const socketPath = join(directory, 'docker.sock');
    const engine = (dockerd?: DaemonProcess) =>
      new BridgedDockerd(
        directory,
        socketPath,
        bridgeName,
        network.bridgeSubnet,
        firewall,
        containerd,
        dockerd,
        dockerCli,
      );
    let started = engine();
    try {
      await runChecked(['ip', 'link', 'add', 'name', bridgeName, 'type', 'bridge']);
      // dockerd takes the subnet from the bridge's address (`--bip` goes only with docker0).
      await runChecked(['ip', 'addr', 'add', gateway, 'dev', bridgeName]);
      await runChecked(['ip', 'link', 'set', bridgeName, 'up']);
      await containerd.waitForPath(containerdSocket);
      const daemonJson = join(directory, 'daemon.json');
      await writeFile(daemonJson, '{}\n');
      const dockerd = DaemonProcess.start(
        'dockerd',
        [
          'dockerd',
          '--config-file',
          daemonJson,
          '--data-root',
          join(directory, 'data'),
          '--exec-root',
          join(directory, 'exec'),
          '--pidfile',
          join(directory, 'docker.pid'),
          '--host',
          `unix://${socketPath}`,
          '--containerd',
          containerdSocket,
          '--bridge',
          bridgeName,
          '--iptables=true',
          '--ip-masq=true',
          '--ip6tables=false',
          '--ip-forward=false',
          '--userland-proxy=true',
          ...(existsSync(DOCKER_PROXY) ? ['--userland-proxy-path', DOCKER_PROXY] : []),
        ],
        join(directory, 'dockerd.log'),
      );
      started = engine(dockerd);
      await dockerd.waitForPing(socketPath);
      return started;
    } catch (error) {
      await started.close();
      throw error;
    }
  }

  /** `docker run --rm --network none busybox true`, as in the engine benchmark. */
  runOnce() {
    return dockerRunCommand(this.dockerCli, this.socketPath);
  }

  dockerEnv(): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: `unix://${this.socketPath}` };
  }

  processes(): number[] {
    const daemons = [this.dockerd?.pid, this.containerd.pid];
    return engineProcesses(
      daemons.filter((pid): pid is number => pid !== undefined && pid > 0),
      this.directory,
    );
  }

  logTail(): string {
    return `${this.dockerd?.logTail() ?? ''}\n${this.containerd.logTail()}`;
  }

  /** Stops dockerd and containerd, then removes what they left (listed in `removed`). */
  async close(): Promise<void> {
    if (this.dockerd?.running()) {
      const docker = (...args: string[]) => runChecked([this.dockerCli, ...args], { env: this.dockerEnv() });
      const left = (await docker('ps', '-aq').catch(() => '')).split('\n').filter(Boolean);
      if (left.length > 0) await docker('rm', '-f', '-v', ...left).catch(() => undefined);
    }
    await this.dockerd?.stop();
    await this.containerd.stop();
    for (const pid of engineProcesses([], this.directory)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    // dockerd keeps its default bridge when it stops.
    const deleted = await runChecked(['ip', 'link', 'del', this.bridgeName]).then(
      () => true,
      () => false,
    );
    if (deleted) this.removed.push(`bridge ${this.bridgeName}`);
    this.removed.push(...(await this.firewall.restore(this.bridgeName, this.bridgeSubnet)));
    await removePrivateDir(this.directory);
  }
}
