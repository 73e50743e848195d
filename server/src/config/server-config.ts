import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ServerConfig {
  port: number;
  /** Address to listen on; all interfaces unless SKIFF_LISTEN says otherwise. */
  listen: string;
  databaseUrl: string | undefined;
  /** Where an embedded PostgreSQL keeps its data when DATABASE_URL is unset. */
  dataDir: string;
  /** The built console (index.html and assets). */
  webDir: string;
  adminPassword: string | undefined;
  sessionTtlMs: number;
  /** Mark cookies Secure (behind HTTPS). */
  secureCookies: boolean;
  /**
   * The key that seals secrets kept in the database (TOTP secrets, kept SSH credentials), from SKIFF_SECRET_KEY; when
   * unset, `<dataDir>/server.key` is used, and made on first use.
   */
  secretKey: Buffer | undefined;
  /** How long an install or upgrade over SSH waits for its agent to come online (SKIFF_PROVISION_ONLINE_SECONDS). */
  provisionOnlineTimeoutMs: number;
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export function loadServerConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  return {
    port: parsePort(env.PORT ?? '8080'),
    listen: env.SKIFF_LISTEN ?? '0.0.0.0',
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.SKIFF_DATA ?? `${repoRoot}.skiff`,
    webDir: env.SKIFF_WEB_DIR ?? `${repoRoot}web/dist/browser`,
    adminPassword: env.SKIFF_ADMIN_PASSWORD || undefined,
    sessionTtlMs: parseHours(env.SKIFF_SESSION_HOURS ?? '12') * 3_600_000,
    secureCookies: env.SKIFF_SECURE_COOKIES === 'true',
    secretKey: env.SKIFF_SECRET_KEY ? parseSecretKey(env.SKIFF_SECRET_KEY) : undefined,
    provisionOnlineTimeoutMs:
      parseSeconds('SKIFF_PROVISION_ONLINE_SECONDS', env.SKIFF_PROVISION_ONLINE_SECONDS ?? '90') * 1000,
  };
}

export function webDirExists(config: ServerConfig): boolean {
  return existsSync(`${config.webDir}/index.html`);
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a TCP port number (0-65535), not "${value}"`);
  }
  return port;
}

function parseHours(value: string): number {
  const hours = Number(value);
  if (!Number.isFinite(hours) || hours <= 0) {
    throw new Error(`SKIFF_SESSION_HOURS must be a positive number of hours, not "${value}"`);
  }
  return hours;
}

function parseSeconds(name: string, value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 1)
    throw new Error(`${name} must be a whole number of seconds, not "${value}"`);
  return seconds;
}

function parseSecretKey(value: string): Buffer {
  const key = Buffer.from(value.trim(), 'base64');
  if (key.length !== 32 || key.toString('base64') !== value.trim()) {
    throw new Error('SKIFF_SECRET_KEY must be 32 bytes in base64 (make one with `openssl rand -base64 32`)');
  }
  return key;
}
