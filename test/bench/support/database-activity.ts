import { query } from '../../support/database.js';

/**
 * How many transactions the database has seen (committed and rolled back), from
 * pg_stat_database. PostgreSQL publishes a backend's counts when it goes idle, at the latest
 * 10 s later (PGSTAT_IDLE_INTERVAL), so a count is settled once the database has been quiet that
 * long. Reading it is one transaction too.
 */
export async function transactionCount(databaseUrl: string): Promise<number> {
  const [row] = await query<{ count: string }>(
    databaseUrl,
    'SELECT xact_commit + xact_rollback AS count FROM pg_stat_database WHERE datname = current_database()',
  );
  return Number(row.count);
}

export const STATS_SETTLE_MS = 11_000;
