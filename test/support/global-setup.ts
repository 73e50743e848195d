import type { TestProject } from 'vitest/node';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

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
