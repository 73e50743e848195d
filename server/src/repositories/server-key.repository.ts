import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SERVER_CONFIG } from '../config/config.module.js';
import type { ServerConfig } from '../config/server-config.js';

export const SERVER_KEY_FILE = 'server.key';

/**
 * The server's 32-byte key for secrets kept in the database: SKIFF_SECRET_KEY when set, else the
 * key file in the data directory, made (mode 0600) the first time one is needed. Losing the key
 * file loses what it sealed: users with TOTP then need an admin to clear it.
 */
@Injectable()
export class ServerKeyRepository {
  private key: Promise<Buffer> | undefined;

  constructor(@Inject(SERVER_CONFIG) private readonly config: ServerConfig) {}

  load(): Promise<Buffer> {
    if (this.config.secretKey) return Promise.resolve(this.config.secretKey);
    this.key ??= readOrCreateKeyFile(join(this.config.dataDir, SERVER_KEY_FILE)).catch((error: unknown) => {
      this.key = undefined;
      throw error;
    });
    return this.key;
  }
}

async function readOrCreateKeyFile(path: string): Promise<Buffer> {
  try {
    return parseKeyFile(path, await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  // The data directory it makes is also the embedded PostgreSQL's (and the local agent's): others
  // may enter it, as `npm start` needs for the postgres user, but not list it; the key is 0600.
  await mkdir(dirname(path), { recursive: true, mode: 0o711 });
  try {
    // wx: of two replicas starting on one data directory, the second reads what the first wrote.
    await writeFile(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return parseKeyFile(path, await readFile(path, 'utf8'));
  }
}

function parseKeyFile(path: string, text: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new Error(`${path} must hold a 32-byte key in base64, not ${key.length} bytes`);
  return key;
}
