import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../logger.js';
import { nodeFileSystem, writeFileAtomic, type AtomicFileSystem } from '../state/atomic-file.js';
import { ensureDirectory } from '../state/ensure-directory.js';
import { HostKey } from './host-key.js';

const IDENTITY_FORMAT = 1;

/** What a host knows about itself on the plane; identity.json holds exactly this. */
export interface PlaneIdentity {
  /** Ed25519 public key, SPKI DER in base64. */
  publicKey: string;
  /** Ed25519 private key, PKCS8 PEM. */
  privateKey: string;
  /** ISO 8601: when the key pair was made. */
  createdAt: string;
  /** Set once the server has accepted the enrolment. */
  hostId?: string;
  /** The name the server gave the host at enrolment. */
  hostName?: string;
  /** The server this host enrolled with. */
  server?: string;
  enrolledAt?: string;
}

export interface LoadedIdentity {
  identity: PlaneIdentity;
  key: HostKey;
  /** True when this call generated the key pair. */
  created: boolean;
}

export class IdentityFileError extends Error {
  constructor(path: string, problem: string) {
    super(`cannot use plane identity ${path}: ${problem}`);
    this.name = 'IdentityFileError';
  }
}

export interface IdentityStoreOptions {
  logger?: Logger;
  fileSystem?: AtomicFileSystem;
}

/** Keeps `<root>/plane/identity.json` (0600, in a 0700 directory), written atomically. */
export class IdentityStore {
  readonly directory: string;
  readonly path: string;
  private readonly logger: Logger | undefined;
  private readonly fileSystem: AtomicFileSystem;

  constructor(root: string, { logger, fileSystem = nodeFileSystem }: IdentityStoreOptions = {}) {
    this.directory = join(root, 'plane');
    this.path = join(this.directory, 'identity.json');
    this.logger = logger;
    this.fileSystem = fileSystem;
  }

  /** The stored identity, or undefined when there is none yet. */
  async load(): Promise<{ identity: PlaneIdentity; key: HostKey } | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new IdentityFileError(this.path, errorMessage(error));
    }
    const parsed = parseIdentity(text, this.path);
    await this.tightenMode();
    return parsed;
  }

  async loadOrCreate(now: Date = new Date()): Promise<LoadedIdentity> {
    const existing = await this.load();
    if (existing) return { ...existing, created: false };
    const key = HostKey.generate();
    const identity: PlaneIdentity = {
      publicKey: key.publicKey,
      privateKey: key.toPem(),
      createdAt: now.toISOString(),
    };
    await this.save(identity);
    return { identity, key, created: true };
  }

  async save(identity: PlaneIdentity): Promise<void> {
    await ensureDirectory(this.directory, 0o700);
    const text = `${JSON.stringify({ format: IDENTITY_FORMAT, ...identity }, null, 2)}\n`;
    await writeFileAtomic(this.path, text, { mode: 0o600 }, this.fileSystem);
  }

  private async tightenMode(): Promise<void> {
    const mode = (await stat(this.path)).mode & 0o777;
    if ((mode & 0o077) === 0) return;
    this.logger?.warn(
      `${this.path} was readable by others (mode ${mode.toString(8)}); set it to 600 — consider this host's key exposed`,
    );
    await chmod(this.path, 0o600);
  }
}

/** Checks every field and that the two halves of the key pair belong together. */
export function parseIdentity(text: string, path: string): { identity: PlaneIdentity; key: HostKey } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new IdentityFileError(path, 'it is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new IdentityFileError(path, 'it is not a JSON object');
  }
  const record = raw as Record<string, unknown>;
  if (record['format'] !== IDENTITY_FORMAT) {
    throw new IdentityFileError(
      path,
      `unknown format ${JSON.stringify(record['format'])}, expected ${IDENTITY_FORMAT}`,
    );
  }
  const required = (field: string): string => {
    const value = record[field];
    if (typeof value !== 'string' || value === '') throw new IdentityFileError(path, `field ${field} is missing`);
    return value;
  };
  const optional = (field: string): string | undefined => {
    const value = record[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') throw new IdentityFileError(path, `field ${field} is not a string`);
    return value;
  };

  const identity: PlaneIdentity = {
    publicKey: required('publicKey'),
    privateKey: required('privateKey'),
    createdAt: required('createdAt'),
  };
  for (const field of ['hostId', 'hostName', 'server', 'enrolledAt'] as const) {
    const value = optional(field);
    if (value !== undefined) identity[field] = value;
  }

  let key: HostKey;
  try {
    key = HostKey.fromPem(identity.privateKey);
  } catch (error) {
    throw new IdentityFileError(path, `privateKey is not usable: ${errorMessage(error)}`);
  }
  if (key.publicKey !== identity.publicKey) {
    throw new IdentityFileError(path, 'publicKey does not belong to privateKey');
  }
  return { identity, key };
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
