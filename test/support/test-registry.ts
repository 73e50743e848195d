/**
 * A real registry for tests: Debian's `docker-registry` (distribution 2.8), installed with
 * apt-get when missing, serving on 127.0.0.1 at a free port from a temporary storage directory.
 * Without auth, with htpasswd basic auth (bcrypt entries made with bcryptjs), or with token auth
 * against a token server the test runs (registry-token-server.ts).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { freePort } from './processes.js';
import type { TokenServer } from './registry-token-server.js';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

/** A Debian package's program, installed with apt-get when missing (the dpkg lock may be held by another install). */
function ensureDebianProgram(path: string, debianPackage: string): string {
  if (!existsSync(path)) {
    execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', debianPackage], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  return path;
}

/** Debian's docker-registry (its service is not started: tests run their own). */
export function ensureRegistry(): string {
  return ensureDebianProgram(REGISTRY_BINARY, 'docker-registry');
}

/** Debian's zstd CLI, for test layers compressed with zstd. */
export function ensureZstd(): string {
  return ensureDebianProgram('/usr/bin/zstd', 'zstd');
}

/** Debian's skopeo, the independent client the tests check our pushes and pulls against. */
export function ensureSkopeo(): string {
  return ensureDebianProgram('/usr/bin/skopeo', 'skopeo');
}

export interface RegistryOptions {
  /** htpasswd users (name → password) for basic auth. */
  users?: Record<string, string>;
  /** Token auth against this server. */
  tokenServer?: TokenServer;
}

export class TestRegistry {
  private constructor(
    readonly directory: string,
    /** `127.0.0.1:PORT` */
    readonly host: string,
    private readonly child: ChildProcess,
    private readonly logPath: string,
  ) {}

  static async start(options: RegistryOptions = {}): Promise<TestRegistry> {
    if (process.getuid?.() !== 0) throw new Error('the registry tests need root: run them as root (CI does)');
    const binary = ensureRegistry();
    ensureSkopeo();
    const directory = await mkdtemp(join(tmpdir(), 'skiff-registry-'));
    const port = await freePort();
    const lines = [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(directory, 'storage')}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${Math.random().toString(36).slice(2)}`,
    ];
    if (options.users !== undefined) {
      const htpasswd = join(directory, 'htpasswd');
      await writeFile(
        htpasswd,
        Object.entries(options.users)
          .map(([user, password]) => `${user}:${bcrypt.hashSync(password, 5)}\n`)
          .join(''),
      );
      lines.push('auth:', '  htpasswd:', '    realm: skiff-test', `    path: ${htpasswd}`);
    } else if (options.tokenServer !== undefined) {
      lines.push(
        'auth:',
        '  token:',
        `    realm: ${options.tokenServer.realm}`,
        `    service: ${options.tokenServer.service}`,
        `    issuer: ${options.tokenServer.issuer}`,
        `    rootcertbundle: ${options.tokenServer.certificatePath}`,
      );
    }
    const configPath = join(directory, 'config.yml');
    await writeFile(configPath, `${lines.join('\n')}\n`);
    const logPath = join(directory, 'registry.log');
    const log = openSync(logPath, 'a');
    const child = spawn(binary, ['serve', configPath], { stdio: ['ignore', log, log] });
    const registry = new TestRegistry(directory, `127.0.0.1:${port}`, child, logPath);
    try {
      await registry.waitUntilServing();
      return registry;
    } catch (error) {
      await registry.close();
      throw error;
    }
  }

  private async waitUntilServing(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const status = await this.status('/v2/').catch(() => undefined);
      if (status !== undefined) return;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`docker-registry did not start:\n${this.log()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The status of a plain GET, without credentials. */
  status(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const outgoing = request(`http://${this.host}${path}`, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  /** The digest the registry gives the manifest of `repository:tag`. */
  async manifestDigest(repository: string, tag: string): Promise<string> {
    const response = await fetch(`http://${this.host}/v2/${repository}/manifests/${tag}`, {
      method: 'HEAD',
      headers: {
        Accept: [
          'application/vnd.oci.image.index.v1+json',
          'application/vnd.docker.distribution.manifest.list.v2+json',
          'application/vnd.oci.image.manifest.v1+json',
          'application/vnd.docker.distribution.manifest.v2+json',
        ].join(', '),
      },
    });
    const digest = response.headers.get('docker-content-digest');
    if (response.status !== 200 || digest === null)
      throw new Error(`no manifest ${repository}:${tag}: ${response.status}`);
    return digest;
  }

  /** Where the registry keeps a blob's bytes (tests change it to play a broken registry). */
  blobPath(digest: string): string {
    const hex = digest.replace(/^sha256:/, '');
    return join(this.directory, 'storage/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  }

  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
    await rm(this.directory, { recursive: true, force: true });
  }
}
