import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadServerConfig } from '../config/server-config.js';
import { ServerKeyRepository } from './server-key.repository.js';

describe(ServerKeyRepository.name, () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'skiff-key-'));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  const repository = (env: NodeJS.ProcessEnv = {}) =>
    new ServerKeyRepository({ ...loadServerConfig(env), dataDir: join(dataDir, 'data') });

  it('makes a 32-byte key file readable by the server alone on first use, then keeps using it', async () => {
    const key = await repository().load();
    expect(key).toHaveLength(32);
    const path = join(dataDir, 'data', 'server.key');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    // The data directory it made stays enterable (npm start's PostgreSQL runs as another user).
    expect((await stat(join(dataDir, 'data'))).mode & 0o777).toBe(0o711);
    expect(Buffer.from(await readFile(path, 'utf8'), 'base64')).toEqual(key);
    expect(await repository().load()).toEqual(key);
  });

  it('uses SKIFF_SECRET_KEY when it is set, and makes no file', async () => {
    const given = randomBytes(32);
    expect(await repository({ SKIFF_SECRET_KEY: given.toString('base64') }).load()).toEqual(given);
    await expect(stat(join(dataDir, 'data', 'server.key'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a SKIFF_SECRET_KEY or a key file of the wrong length', async () => {
    expect(() => loadServerConfig({ SKIFF_SECRET_KEY: randomBytes(16).toString('base64') })).toThrow(
      /SKIFF_SECRET_KEY must be 32 bytes in base64/,
    );
    await repository().load();
    await writeFile(join(dataDir, 'data', 'server.key'), 'c2hvcnQ=\n');
    await expect(repository().load()).rejects.toThrow(/server\.key must hold a 32-byte key in base64, not 5 bytes/);
  });
});
