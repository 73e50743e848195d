import { Inject, Injectable, Logger } from '@nestjs/common';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, cp, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
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

/**
 * Architectures a bundle can be made for, by Node's names. This machine's own is built with its C
 * compiler; the other one with Debian's cross toolchain (host-agent/scripts/build-shim.mjs --arch).
 */
export type BundleArch = 'x64' | 'arm64';

export const BUNDLE_ARCHES: readonly BundleArch[] = ['x64', 'arm64'];

/** ELF e_machine of the binaries of each architecture (EM_X86_64, EM_AARCH64). */
const ELF_MACHINE: Readonly<Record<BundleArch, number>> = { x64: 62, arm64: 183 };

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
 *
 * A bundle for the other architecture than the server's gets a cross-compiled shim and init,
 * and the platform packages of that architecture (koffi's prebuilt binary) fetched from the
 * registry by the lockfile's version and integrity, as npm installs only this machine's.
 */
@Injectable()
export class AgentBundleRepository {
  private readonly logger = new Logger('agent-bundle');
  private readonly building = new Map<BundleArch, Promise<AgentBundle>>();
  private readonly built = new Map<BundleArch, AgentBundle>();

  constructor(@Inject(SERVER_CONFIG) private readonly config: ServerConfig) {}

  private get dir(): string {
    return join(this.config.dataDir, 'agent-bundle');
  }

  /** The current bundle, built when missing or older than the agent build it is made of. */
  async current(arch: BundleArch = 'x64'): Promise<AgentBundle> {
    if (!BUNDLE_ARCHES.includes(arch)) {
      throw new DomainError(
        'invalid-argument',
        `no agent bundle for ${String(arch)}: the architectures are x64, arm64`,
      );
    }
    const built = this.built.get(arch);
    if (built && (await newestInput(arch)) <= built.builtAt.getTime()) return built;
    let building = this.building.get(arch);
    if (!building) {
      building = this.build(arch).finally(() => this.building.delete(arch));
      this.building.set(arch, building);
    }
    const bundle = await building;
    this.built.set(arch, bundle);
    return bundle;
  }

  /**
   * Resolves when this server can make a bundle for `arch`: its own architecture always, the
   * other one when its cross toolchain is installed. Else unavailable, naming the packages.
   */
  async assertBuildable(arch: BundleArch): Promise<void> {
    if (arch === process.arch) return;
    await run(process.execPath, [buildShimScript, '--check', '--arch', arch], { timeout: 30_000 }).catch(
      (error: unknown) => {
        throw new DomainError('unavailable', `cannot make an agent bundle for ${arch}: ${scriptFailure(error)}`);
      },
    );
  }

  /** The architectures this server can make a bundle for now (for the install preflight). */
  async buildableArches(): Promise<BundleArch[]> {
    const arches: BundleArch[] = [];
    for (const arch of BUNDLE_ARCHES) {
      if (
        await this.assertBuildable(arch).then(
          () => true,
          () => false,
        )
      )
        arches.push(arch);
    }
    return arches;
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
    await run(process.execPath, [buildShimScript, '--quiet', '--arch', arch], { timeout: 300_000 }).catch(
      (error: unknown) => {
        throw new DomainError('unavailable', `cannot make an agent bundle for ${arch}: ${scriptFailure(error)}`);
      },
    );
    const shimDir = shimBuildDir(arch);
    // The inputs as of now, the shim just (re)built included: a later change makes the bundle stale.
    const inputsAt = Date.now();

    const nodeVersion = process.versions.node;
    const nodeBinary = await this.nodeRuntime(arch, nodeVersion);
    // A wrong binary here would only show on the host, as `exec format error` at its first start.
    for (const binary of [nodeBinary, join(shimDir, 'skiff-shim'), join(shimDir, 'skiff-init')]) {
      const machine = await elfMachine(binary);
      if (machine !== ELF_MACHINE[arch]) {
        throw new DomainError('internal', `${binary} is not a linux-${arch} binary (ELF machine ${machine ?? 'none'})`);
      }
    }

    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // One stage per architecture: bundles of both may be built at the same time.
    const stage = join(this.dir, `stage-${arch}-${process.pid}`);
    await rm(stage, { recursive: true, force: true });
    try {
      await mkdir(join(stage, 'node/bin'), { recursive: true });
      await cp(nodeBinary, join(stage, 'node/bin/node'));
      await chmod(join(stage, 'node/bin/node'), 0o755);

      const agent = join(stage, 'agent');
      for (const part of ['package.json', 'bin', 'dist', 'seccomp']) {
        await cp(join(agentDir, part), join(agent, part), { recursive: true, filter: notSourceMap });
      }
      // Where the agent looks for them (engine.ts), whichever architecture they were built for.
      for (const binary of ['skiff-shim', 'skiff-init']) {
        await cp(join(shimDir, binary), join(agent, 'shim/build', binary));
      }
      const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as {
        packages: LockPackages;
      };
      const placements = placeProductionPackages(
        lock.packages,
        'host-agent',
        (path) => existsSync(join(repoRoot, path)),
        // The official Node.js builds in node-linux-<arch> link glibc.
        { os: 'linux', cpu: arch, libc: 'glibc' },
      );
      for (const placed of placements) {
        if (placed.fetch) await this.copyRegistryPackage(placed.fetch, join(agent, placed.target));
        else await copyPackage(placed, agent);
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
      return { arch, version, path, sha256, size, nodeVersion, builtAt: new Date(inputsAt) };
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  }

  /**
   * A package of the lockfile that is not installed here (another platform's), fetched once with
   * `npm pack`, checked against the lockfile's integrity, cached, and copied to `to`.
   */
  private async copyRegistryPackage(
    wanted: { name: string; version: string; integrity: string },
    to: string,
  ): Promise<void> {
    const spec = `${wanted.name}@${wanted.version}`;
    const cache = join(this.dir, 'cache', 'packages', `${wanted.name.replace('/', '+')}-${wanted.version}`);
    const unpacked = join(cache, 'package');
    if (!(await exists(join(unpacked, 'package.json')))) {
      await rm(cache, { recursive: true, force: true });
      await mkdir(cache, { recursive: true });
      try {
        const { stdout } = await run('npm', ['pack', spec, '--pack-destination', cache, '--json'], {
          timeout: 300_000,
          cwd: cache,
        });
        const [packed] = JSON.parse(stdout) as { filename: string }[];
        const tarball = join(cache, packed.filename);
        // Subresource Integrity: `<algorithm>-<base64 digest>`, the first of several when npm lists more.
        const first = wanted.integrity.trim().split(/\s+/)[0];
        const algorithm = first.slice(0, first.indexOf('-'));
        const expected = first.slice(first.indexOf('-') + 1);
        const actual = await hashFile(tarball, algorithm);
        if (actual !== expected) {
          throw new Error(`its ${algorithm} is ${actual}, package-lock.json has ${expected}`);
        }
        await mkdir(unpacked);
        // npm tarballs hold one top folder, usually `package/`.
        await run('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1', '--no-same-owner'], {
          timeout: 120_000,
        });
        await rm(tarball, { force: true });
      } catch (error) {
        await rm(cache, { recursive: true, force: true });
        throw new DomainError(
          'unavailable',
          `cannot fetch ${spec} from the npm registry: ${String((error as Error).message).trim()}`,
        );
      }
    }
    await cp(unpacked, to, { recursive: true });
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

const buildShimScript = join(repoRoot, 'host-agent/scripts/build-shim.mjs');

/** Where build-shim.mjs puts the binaries of `arch`: build/ for this machine's, build/<arch>/ for a cross build. */
function shimBuildDir(arch: BundleArch): string {
  return join(repoRoot, 'host-agent/shim/build', ...(arch === process.arch ? [] : [arch]));
}

/** What a failed run of build-shim.mjs said: its message is written for the operator. */
function scriptFailure(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  return (typeof stderr === 'string' && stderr.trim()) || String((error as Error).message).trim();
}

/** e_machine of an ELF file, or undefined when it is none. */
async function elfMachine(path: string): Promise<number | undefined> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(20);
    const { bytesRead } = await file.read(header, 0, 20, 0);
    return bytesRead === 20 && header.readUInt32BE(0) === 0x7f454c46 ? header.readUInt16LE(18) : undefined;
  } finally {
    await file.close();
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

/** A file's digest in base64, as an npm integrity string holds it (`sha512-<base64>`). */
async function hashFile(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(path), hash);
  return hash.digest('base64');
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

/** The newest modification time of the agent build and the deploy files a bundle of `arch` is made of. */
async function newestInput(arch: BundleArch): Promise<number> {
  const shimDir = relative(repoRoot, shimBuildDir(arch));
  const paths = [
    'host-agent/dist',
    'host-agent/protocol/dist',
    `${shimDir}/skiff-shim`,
    `${shimDir}/skiff-init`,
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
