import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DockerApiEngine, dockerRunCommand } from './contender.js';
import { DaemonProcess } from './daemon-process.js';
import { makePrivateDir, removePrivateDir } from './private-dir.js';
import { engineProcesses } from './process-memory.js';
import { runChecked } from './timed-command.js';

/**
 * Debian's dockerd on a private data root, exec root, pid file, config and socket, with its own
 * containerd (as Debian's docker.service runs it: a containerd of its own, passed with
 * --containerd) on a private root, state and socket. Networking is off (no bridge, no iptables,
 * no ip6tables): the host's network is never touched, and containers get loopback only, as in
 * our engine's default network. Both at their default log levels.
 */
export class PrivateDockerd implements DockerApiEngine {
  readonly label = 'dockerd (`docker run --rm`)';

  private constructor(
    readonly directory: string,
    readonly socketPath: string,
    private readonly containerd: DaemonProcess,
    private readonly dockerd: DaemonProcess | undefined,
    private readonly dockerCli: string,
  ) {}

  static async start(dockerCli: string): Promise<PrivateDockerd> {
    const directory = await makePrivateDir('skiff-bench-dockerd-');
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
        // As dockerd's own supervised containerd: no Kubernetes CRI.
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
    let engine = new PrivateDockerd(directory, socketPath, containerd, undefined, dockerCli);
    try {
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
          '--iptables=false',
          '--ip6tables=false',
          '--bridge=none',
        ],
        join(directory, 'dockerd.log'),
      );
      engine = new PrivateDockerd(directory, socketPath, containerd, dockerd, dockerCli);
      await dockerd.waitForPing(socketPath);
      return engine;
    } catch (error) {
      await engine.close();
      throw error;
    }
  }

  runOnce() {
    return dockerRunCommand(this.dockerCli, this.socketPath);
  }

  dockerEnv(): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: `unix://${this.socketPath}` };
  }

  processes(): number[] {
    return engineProcesses(this.daemonPids(), this.directory);
  }

  private daemonPids(): number[] {
    return [this.dockerd?.pid, this.containerd.pid].filter((pid): pid is number => pid !== undefined && pid > 0);
  }

  logTail(): string {
    return `${this.dockerd?.logTail() ?? ''}\n${this.containerd.logTail()}`;
  }

  async close(): Promise<void> {
    if (this.dockerd?.running()) {
      const docker = (...args: string[]) => runChecked([this.dockerCli, ...args], { env: this.dockerEnv() });
      const left = (await docker('ps', '-aq').catch(() => '')).split('\n').filter(Boolean);
      if (left.length > 0) await docker('rm', '-f', '-v', ...left).catch(() => undefined);
    }
    await this.dockerd?.stop();
    await this.containerd.stop();
    // A containerd shim outlives containerd; none should be left, but one that is would hold mounts.
    for (const pid of engineProcesses([], this.directory)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await removePrivateDir(this.directory);
  }
}
