import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { HostKey } from './host-key.js';
import { IdentityFileError, IdentityStore } from './identity-store.js';

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe(IdentityStore.name, () => {
  let root: string;
  let store: IdentityStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'skiff-identity-'));
    store = new IdentityStore(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps the identity in <root>/plane/identity.json', () => {
    expect(store.path).toBe(join(root, 'plane', 'identity.json'));
  });

  it('creates a key pair on first use and stores it with mode 0600 in a 0700 directory', async () => {
    const { identity, key, created } = await store.loadOrCreate();

    expect(created).toBe(true);
    expect(identity.hostId).toBeUndefined();
    expect(identity.publicKey).toBe(key.publicKey);
    expect(await modeOf(store.path)).toBe(0o600);
    expect(await modeOf(join(root, 'plane'))).toBe(0o700);
    const onDisk = JSON.parse(await readFile(store.path, 'utf8')) as Record<string, unknown>;
    expect(onDisk).toMatchObject({ format: 1, publicKey: key.publicKey, privateKey: key.toPem() });
  });

  it('returns the same key pair on the next start', async () => {
    const first = await store.loadOrCreate();

    const second = await new IdentityStore(root).loadOrCreate();

    expect(second.created).toBe(false);
    expect(second.identity).toEqual(first.identity);
    expect(second.key.publicKey).toBe(first.key.publicKey);
  });

  it('keeps the enrolment after a save and a reload', async () => {
    const { identity } = await store.loadOrCreate();

    await store.save({ ...identity, hostId: 'host-1', hostName: 'web-1', server: 'https://skiff.test' });

    const reloaded = await new IdentityStore(root).load();
    expect(reloaded?.identity).toMatchObject({ hostId: 'host-1', hostName: 'web-1', server: 'https://skiff.test' });
  });

  it('replaces the file atomically, leaving no temporary file', async () => {
    const { identity } = await store.loadOrCreate();

    await store.save({ ...identity, hostId: 'host-1' });

    expect(await readdir(join(root, 'plane'))).toEqual(['identity.json']);
    expect(await modeOf(store.path)).toBe(0o600);
  });

  it('has nothing to load before the first start', async () => {
    expect(await store.load()).toBeUndefined();
  });

  it('tightens a plane directory and an identity file that others could read, and says so', async () => {
    const { identity } = await store.loadOrCreate();
    await chmod(store.path, 0o644);
    await chmod(join(root, 'plane'), 0o755);
    const lines: string[] = [];
    const logged = new IdentityStore(root, { logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) });

    await logged.load();
    await logged.save(identity);

    expect(await modeOf(store.path)).toBe(0o600);
    expect(await modeOf(join(root, 'plane'))).toBe(0o700);
    expect(lines.join('')).toContain(`${store.path} was readable by others (mode 644)`);
  });

  it.each([
    ['not valid JSON', '{', 'it is not valid JSON'],
    [
      'missing the private key',
      JSON.stringify({ format: 1, publicKey: 'x', createdAt: 'now' }),
      'field privateKey is missing',
    ],
    ['of an unknown format', JSON.stringify({ format: 9 }), 'unknown format 9, expected 1'],
  ])('refuses a file that is %s, naming the file', async (_case, content, problem) => {
    await mkdir(join(root, 'plane'), { recursive: true });
    await writeFile(store.path, content);

    await expect(store.load()).rejects.toThrow(new IdentityFileError(store.path, problem));
  });

  it('refuses a file whose public key does not belong to its private key', async () => {
    const { identity } = await store.loadOrCreate();
    await store.save({ ...identity, publicKey: HostKey.generate().publicKey });

    await expect(store.load()).rejects.toThrow('publicKey does not belong to privateKey');
  });
});
