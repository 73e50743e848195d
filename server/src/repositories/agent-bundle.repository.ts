import { Inject, Injectable, Logger } from '@nestjs/common';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { SERVER_CONFIG } from '../config/config.module.js';
import type { ServerConfig } from '../config/server-config.js';
import { DomainError } from '../errors/domain-error.js';
import { type LockPackages, type PlacedPackage, placeProductionPackages } from '../services/agent-bundle-packages.js';

const run = promisify(execFile);

/** The checkout the server runs from: the bundle is made of its built agent. */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Architectures a bundle can be made for here: the shim is compiled by this machine's C compiler. */
export type BundleArch = 'x64' | 'arm64';

export interface AgentBundle {
  arch: BundleArch;
  /** The agent's version and the bundle's content id, e.g. `0.1.0+3f2a1b4c5d6e`. */
  version: string;
  path: string;
  sha256: string;
  size: number;
  nodeVersion: string;
  builtAt: Date;
}

/** The files the host side runs, served to hosts and copied into every bundle. */
export const HOST_SCRIPT_PATH = join(repoRoot, 'deploy/skiff-host.sh');
export const INSTALL_SCRIPT_PATH = join(repoRoot, 'deploy/install.sh');

/**
 * Builds the agent bundle from this checkout: the built agent (dist, its production
 * node_modules, the protocol package), the static skiff-shim and skiff-init, a Node.js runtime
 * from the npm registry's `node-linux-<arch>` package (fetched once with npm and cached) and the
 * host scripts; packed as a gzipped tar with its sha256. The same inputs make the same bytes.
 */
@Injectable()
export class AgentBundleRepository {
  private readonly logger = new Logger('agent-bundle');
  private building: Promise<AgentBundle> | undefined;
  private built: AgentBundle | undefined;

  constructor(@Inject(SERVER_CONFIG) private readonly config: ServerConfig) {}

  private get dir(): string {
    return join(this.config.dataDir, 'agent-bundle');
  }

  /** The current bundle, built when missing or older than the agent build it is made of. */
  async current(arch: BundleArch = 'x64'): Promise<AgentBundle> {
    if (arch !== 'x64' || process.arch !== 'x64') {
      throw new DomainError(
        'unavailable',
        `this server cannot make an agent bundle for ${arch}: skiff-shim is compiled by the server's own C compiler ` +
          `for ${process.arch}; install the agent on ${arch} hosts from a server running on ${arch}`,
      );
    }
    const inputsChanged = this.built === undefined || (await newestInput()) > this.built.builtAt.getTime();
    if (!inputsChanged && this.built) return this.built;
    this.building ??= this.build(arch).finally(() => {
      this.building = undefined;
    });
    this.built = await this.building;
    return this.built;
  }

  /** skiff-host.sh, uploaded to a host before every job. */
  hostScript(): Promise<string> {
    return readFile(HOST_SCRIPT_PATH, 'utf8');
  }

  /** install.sh for the manual install, with the server's address filled in. */
  async installScript(serverUrl: string): Promise<string> {
    return (await readFile(INSTALL_SCRIPT_PATH, 'utf8')).replaceAll('@SKIFF_SERVER@', serverUrl);
  }

  /** A readable stream of the bundle file. */
  open(bundle: AgentBundle): NodeJS.ReadableStream {
    return createReadStream(bundle.path);
  }

  private async build(arch: BundleArch): Promise<AgentBundle> {
    const started = Date.now();
    const agentDir = join(repoRoot, 'host-agent');
    await stat(join(agentDir, 'dist/cli.js')).catch(() => {
      throw new DomainError('unavailable', 'the agent is not built in this checkout: run `npm run build` first');
    });
    // The static shim and init: the build script rebuilds them only when their sources changed.
    await run(process.execPath, [join(agentDir, 'scripts/build-shim.mjs'), '--quiet'], { timeout: 300_000 });

    const nodeVersion = process.versions.node;
    const nodeBinary = await this.nodeRuntime(arch, nodeVersion);

    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const stage = join(this.dir, `stage-${process.pid}`);
    await rm(stage, { recursive: true, force: true });
    try {
      await mkdir(join(stage, 'node/bin'), { recursive: true });
      await cp(nodeBinary, join(stage, 'node/bin/node'));
      await chmod(join(stage, 'node/bin/node'), 0o755);

      const agent = join(stage, 'agent');
      for (const part of ['package.json', 'bin', 'dist', 'seccomp']) {
        await cp(join(agentDir, part), join(agent, part), { recursive: true, filter: notSourceMap });
      }
      for (const binary of ['skiff-shim', 'skiff-init']) {
        await cp(join(agentDir, 'shim/build', binary), join(agent, 'shim/build', binary));
      }
      const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as {
        packages: LockPackages;
      };
      for (const placed of placeProductionPackages(lock.packages, 'host-agent', (path) =>
        existsSync(join(repoRoot, path)),
      )) {
        await copyPackage(placed, agent);
      }

      await mkdir(join(stage, 'bin'));
      await writeFile(join(stage, 'bin/skiff-agent'), LAUNCHER, { mode: 0o755 });
      await cp(HOST_SCRIPT_PATH, join(stage, 'skiff-host.sh'));
      await chmod(join(stage, 'skiff-host.sh'), 0o755);
      await cp(join(repoRoot, 'deploy/remove-containers.mjs'), join(stage, 'remove-containers.mjs'));
      await cp(join(repoRoot, 'deploy/systemd/skiff-agent.service'), join(stage, 'skiff-agent.service'));

      const agentPackage = JSON.parse(await readFile(join(agentDir, 'package.json'), 'utf8')) as { version: string };
      const version = `${agentPackage.version}+${(await contentId(stage)).slice(0, 12)}`;
      await writeFile(join(stage, 'VERSION'), `${version}\n`);

      const path = join(this.dir, `skiff-agent-linux-${arch}.tar.gz`);
      // Written aside and renamed: a download in progress keeps reading the bundle it opened.
      const temporary = `${path}.${process.pid}.tmp`;
      await packDeterministically(stage, temporary);
      await rename(temporary, path);
      const sha256 = await sha256File(path);
      await writeFile(`${path}.sha256`, `${sha256}  skiff-agent-linux-${arch}.tar.gz\n`);
      const { size } = await stat(path);
      this.logger.log(
        `built agent bundle ${version} (${(size / 1048576).toFixed(1)} MiB) in ${Date.now() - started} ms`,
      );
      return { arch, version, path, sha256, size, nodeVersion, builtAt: new Date(started) };
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  }

  /** `node-linux-<arch>@<version>` from the npm registry, fetched once with `npm pack` and cached. */
  private async nodeRuntime(arch: BundleArch, version: string): Promise<string> {
    const cache = join(this.dir, 'cache', `node-linux-${arch}-${version}`);
    const binary = join(cache, 'package/bin/node');
    if (await exists(binary)) return binary;
    await mkdir(cache, { recursive: true });
    const tarball = join(cache, `node-linux-${arch}-${version}.tgz`);
    try {
      await run('npm', ['pack', `node-linux-${arch}@${version}`, '--pack-destination', cache, '--silent'], {
        timeout: 300_000,
        cwd: cache,
      });
      await run('tar', ['-xzf', tarball, '-C', cache, 'package/bin/node', 'package/LICENSE'], { timeout: 120_000 });
    } catch (error) {
      await rm(cache, { recursive: true, force: true });
      throw new DomainError(
        'unavailable',
        `cannot fetch the Node.js runtime node-linux-${arch}@${version} from the npm registry: ${String((error as Error).message).trim()}`,
      );
    }
    await rm(tarball, { force: true });
    return binary;
  }
}

/** Runs the bundle's own Node.js on the bundled agent, wherever the release was unpacked. */
const LAUNCHER = `#!/bin/sh
here=$(cd "$(dirname "$0")/.." && pwd -P)
exec "$here/node/bin/node" "$here/agent/bin/skiff-agent.js" "$@"
`;

function notSourceMap(source: string): boolean {
  return !source.endsWith('.map');
}

async function copyPackage(placed: PlacedPackage, agentDir: string): Promise<void> {
  const from = join(repoRoot, placed.source);
  const to = join(agentDir, placed.target);
  if (placed.workspace) {
    // A workspace package: its manifest and build output only.
    await cp(join(from, 'package.json'), join(to, 'package.json'));
    await cp(join(from, 'dist'), join(to, 'dist'), { recursive: true, filter: notSourceMap });
    return;
  }
  await cp(from, to, {
    recursive: true,
    // Nested node_modules are placed on their own (only the production ones).
    filter: (source) => !relative(from, source).split('/').includes('node_modules'),
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await listFiles(dir, path)));
    else files.push(path);
  }
  return files.sort();
}

/** A hash over every staged file's path, mode and content: the bundle's identity. */
async function contentId(stage: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await listFiles(stage)) {
    const { mode } = await stat(join(stage, file));
    hash.update(`${file}\0${mode & 0o777}\0${await sha256File(join(stage, file))}\n`);
  }
  return hash.digest('hex');
}

/** tar with sorted names, fixed times and owners, gzipped without a timestamp: same files, same bytes. */
async function packDeterministically(stage: string, out: string): Promise<void> {
  const tar = spawn(
    'tar',
    ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', stage, '-cf', '-', '.'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  tar.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar failed (${code}): ${stderr.trim()}`))));
  });
  await Promise.all([pipeline(tar.stdout, createGzip({ level: 6 }), createWriteStream(out)), exited]);
}

/** The newest modification time of the agent build and the deploy files a bundle is made of. */
async function newestInput(): Promise<number> {
  const paths = [
    'host-agent/dist',
    'host-agent/protocol/dist',
    'host-agent/shim/build',
    'host-agent/package.json',
    'deploy/skiff-host.sh',
    'deploy/remove-containers.mjs',
    'deploy/systemd/skiff-agent.service',
  ];
  let newest = 0;
  const walk = async (path: string): Promise<void> => {
    const info = await stat(path).catch(() => undefined);
    if (!info) return;
    newest = Math.max(newest, info.mtimeMs);
    if (info.isDirectory()) {
      for (const entry of await readdir(path)) await walk(join(path, entry));
    }
  };
  for (const path of paths) await walk(join(repoRoot, path));
  return newest;
}
