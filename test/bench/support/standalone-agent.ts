import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../../support/processes.js';
import { uniqueNetwork } from '../../support/unique-network.js';
import { type DockerApiEngine, dockerRunCommand } from './contender.js';
import { DaemonProcess } from './daemon-process.js';
import { makePrivateDir, removePrivateDir } from './private-dir.js';
import { engineProcesses } from './process-memory.js';
import { runChecked } from './timed-command.js';

const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');

/**
 * The built agent as a standalone engine (no --server: it stands in for dockerd) on a private
 * --root and --socket, at its default log level, its output in a file.
 */
export class StandaloneAgent implements DockerApiEngine {
  readonly label = 'Skiff agent (`docker run --rm`)';

  private constructor(
    readonly directory: string,
    readonly socketPath: string,
    private readonly daemon: DaemonProcess,
    private readonly dockerCli: string,
    private readonly network: { bridgeName: string; table: string },
  ) {}

  static async start(dockerCli: string): Promise<StandaloneAgent> {
    const directory = await makePrivateDir('skiff-bench-agent-');
    const root = join(directory, 'state');
    await mkdir(root, { mode: 0o711 });
    const socketPath = join(directory, 'docker.sock');
    // A bridge and nftables table of its own, removed on close (its containers run --network none).
    const network = uniqueNetwork();
    const daemon = DaemonProcess.start(
      'skiff-agent',
      [process.execPath, agentScript, '--root', root, '--socket', socketPath],
      join(directory, 'agent.log'),
      {
        ...process.env,
        SKIFF_BRIDGE: network.bridgeName,
        SKIFF_BRIDGE_SUBNET: network.bridgeSubnet,
        SKIFF_NETWORK_POOL: network.pool,
        SKIFF_NFT_TABLE: network.table,
      },
    );
    const agent = new StandaloneAgent(directory, socketPath, daemon, dockerCli, network);
    try {
      await daemon.waitForPing(socketPath);
      return agent;
    } catch (error) {
      await agent.close();
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
    return engineProcesses([this.daemon.pid], this.directory);
  }

  logTail(): string {
    return this.daemon.logTail();
  }

  async close(): Promise<void> {
    if (this.daemon.running()) {
      const docker = (...args: string[]) => runChecked([this.dockerCli, ...args], { env: this.dockerEnv() });
      const left = (await docker('ps', '-aq').catch(() => '')).split('\n').filter(Boolean);
      if (left.length > 0) await docker('rm', '-f', '-v', ...left).catch(() => undefined);
    }
    await this.daemon.stop();
    await runChecked(['ip', 'link', 'del', this.network.bridgeName]).catch(() => undefined);
    await runChecked(['nft', 'delete', 'table', 'ip', this.network.table]).catch(() => undefined);
    await removePrivateDir(this.directory);
  }
}
