import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, query, type TestDatabase } from '../../../test/support/database.js';
import { dataSourceOptions } from './data-source-options.js';
import { runMigrations } from './migrate.js';

describe('the database schema', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseAdminUrl'));
  });
  afterAll(() => database?.drop());

  it('is built by the migrations, and running them again does nothing', async () => {
    expect(await runMigrations(database.url)).toEqual(['InitialSchema1764288000000']);
    expect(await runMigrations(database.url)).toEqual([]);
  });

  it('matches the entities exactly, so migration:generate starts from a clean slate', async () => {
    const dataSource = new DataSource(dataSourceOptions(database.url));
    await dataSource.initialize();
    try {
      const pending = await dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
    } finally {
      await dataSource.destroy();
    }
  });

  it('refuses to change or delete audit rows', async () => {
    await query(
      database.url,
      `INSERT INTO audit_events (actor_type, action, outcome, prev_hash, hash) VALUES ('system', 'test', 'success', $1, $2)`,
      ['0'.repeat(64), '1'.repeat(64)],
    );
    await expect(query(database.url, `UPDATE audit_events SET action = 'forged'`)).rejects.toThrow(/append-only/);
    await expect(query(database.url, 'DELETE FROM audit_events')).rejects.toThrow(/append-only/);
    await expect(query(database.url, 'TRUNCATE audit_events')).rejects.toThrow(/append-only/);
  });

  it("can be rolled back by each migration's down", async () => {
    const dataSource = new DataSource(dataSourceOptions(database.url));
    await dataSource.initialize();
    try {
      await dataSource.undoLastMigration();
      const tables = await dataSource.query(
        `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
      );
      expect(tables).toEqual([{ tablename: 'migrations' }]);
    } finally {
      await dataSource.destroy();
    }
  });
});
