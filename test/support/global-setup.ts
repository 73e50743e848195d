import type { TestProject } from 'vitest/node';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL of the `postgres` database of a real server; tests make their own databases with it. */
    databaseAdminUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: DATABASE_URL's server when set, else an embedded one in a
 * fresh directory under /tmp that the `postgres` user can reach (the checkout may be in a private folder).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const removeNetwork = await agentNetworkForThisRun();
  const postgres = await startPostgres(project);
  return async () => {
    await postgres();
    await removeNetwork();
  };
}

/**
 * Agents that tests start as processes (live restore, crash, e2e) get a bridge, subnets and an
 * nftables table of this run's own through SKIFF_BRIDGE & co., so runs side by side never share
 * one and a run leaves none behind.
 */
async function agentNetworkForThisRun(): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0 || process.env.SKIFF_BRIDGE) return () => Promise.resolve();
  const { uniqueNetwork } = await import('./unique-network.js');
  const network = uniqueNetwork();
  process.env.SKIFF_BRIDGE = network.bridgeName;
  process.env.SKIFF_BRIDGE_SUBNET = network.bridgeSubnet;
  process.env.SKIFF_NETWORK_POOL = network.pool;
  process.env.SKIFF_NFT_TABLE = network.table;
  return () => {
    const quiet = { stdio: 'ignore' } as const;
    try {
      execFileSync('ip', ['link', 'del', network.bridgeName], quiet);
    } catch {
      // never made
    }
    try {
      execFileSync('nft', ['delete', 'table', 'ip', network.table], quiet);
    } catch {
      // never made
    }
    return Promise.resolve();
  };
}

async function startPostgres(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.DATABASE_URL;
  if (given) {
    const url = new URL(given);
    url.pathname = '/postgres';
    project.provide('databaseAdminUrl', url.toString());
    return () => Promise.resolve();
  }
  const serverDist = join(import.meta.dirname, '../../server/dist/database/embedded-postgres.js');
  if (!existsSync(serverDist)) throw new Error('the server is not built: run `npm run build` (npm test does it)');
  const { startEmbeddedPostgres } = (await import(
    serverDist
  )) as typeof import('../../server/src/database/embedded-postgres.js');
  // One cluster per run, so runs side by side (a developer's and a helper's) never share or stop each other's.
  const dataDir = mkdtempSync('/tmp/skiff-test-pg-');
  chmodSync(dataDir, 0o755);
  const database = await startEmbeddedPostgres({ dataDir, database: 'postgres' });
  project.provide('databaseAdminUrl', database.url);
  return async () => {
    await database.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
