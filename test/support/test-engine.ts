import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type RunningEngine, startEngine } from '../../host-agent/src/engine/engine.js';
import { createLogger } from '../../host-agent/src/logger.js';
import { type BusyboxImage, buildBusyboxImage } from './busybox-image.js';
import { uniqueNetwork } from './unique-network.js';

const run = promisify(execFile);

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A real engine on a temporary root and socket, with the docker CLI pointed at it. */
export class TestEngine {
  private constructor(
    readonly root: string,
    public engine: RunningEngine,
    private readonly busybox: BusyboxImage | undefined,
    private readonly usernsRemap: string | undefined,
    /** This engine's own bridge, subnets and nftables table, so engines side by side never share one. */
    readonly network: { bridgeName: string; bridgeSubnet: string; pool: string; table: string },
  ) {}

  /**
   * Starts the engine; with `busybox`, `busybox:latest` is loaded into it with docker load; with
   * `usernsRemap`, the engine's `--userns-remap`.
   */
  static async start(options: { busybox?: boolean; usernsRemap?: string } = {}): Promise<TestEngine> {
    if (process.getuid?.() !== 0) throw new Error('the engine tests need root: run them as root (CI does)');
    const root = await mkdtemp(join(tmpdir(), 'skiff-engine-'));
    await chmod(root, 0o711);
    const network = uniqueNetwork();
    const engine = await TestEngine.startAt(root, options.usernsRemap, network);
    const busybox = options.busybox
      ? await buildBusyboxImage({ format: 'docker-save', tag: 'busybox:latest' })
      : undefined;
    const started = new TestEngine(root, engine, busybox, options.usernsRemap, network);
    if (busybox) await started.docker('load', '--input', busybox.archivePath);
    return started;
  }

  private static startAt(
    root: string,
    usernsRemap: string | undefined,
    network: TestEngine['network'],
  ): Promise<RunningEngine> {
    return startEngine({
      root,
      socketPath: join(root, 'docker.sock'),
      version: '0.0.0-test',
      logger: createLogger({ level: 'error', write: () => undefined }),
      ...(usernsRemap === undefined ? {} : { usernsRemap }),
      // Names the engine does not know go to 127.0.0.1, never to the host's resolvers.
      network: { ...network, dnsUpstreams: ['127.0.0.1'] },
    });
  }

  env(): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: `unix://${this.engine.socketPath}` };
  }

  /** Runs the docker CLI; resolves with its trimmed stdout, rejects when it fails. */
  async docker(...args: string[]): Promise<string> {
    return (await run('docker', args, { env: this.env(), timeout: 30_000 })).stdout.trim();
  }

  /** Runs the docker CLI and resolves with its exit code and output, failed or not. */
  async dockerAll(...args: string[]): Promise<DockerResult> {
    try {
      const { stdout, stderr } = await run('docker', args, { env: this.env(), timeout: 30_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as DockerResult;
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  /**
   * Stops the engine (containers keep running under their shims) and, after `downtimeMs` and
   * whatever `whileDown` does, starts it again on the same root.
   */
  async restart(downtimeMs = 0, whileDown?: () => Promise<void>): Promise<void> {
    await this.engine.close();
    await new Promise((resolve) => setTimeout(resolve, downtimeMs));
    await whileDown?.();
    this.engine = await TestEngine.startAt(this.root, this.usernsRemap, this.network);
  }

  /** Removes every container with its anonymous volumes, stops the engine and deletes its root. */
  async close(): Promise<void> {
    const ids = await this.docker('ps', '-aq').catch(() => '');
    if (ids) await this.docker('rm', '-f', '-v', ...ids.split('\n')).catch(() => undefined);
    const networks = await this.docker('network', 'ls', '--filter', 'type=custom', '-q').catch(() => '');
    if (networks) await this.docker('network', 'rm', ...networks.split('\n')).catch(() => undefined);
    await this.engine.removeNetworks().catch(() => undefined);
    await this.engine.close();
    await this.busybox?.cleanup();
    await rm(this.root, { recursive: true, force: true });
  }
}
