import { MIGRATIONS_GLOB } from '@skiff/migrations';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, query, type TestDatabase } from '../../../test/support/database.js';
import { dataSourceOptions } from './data-source-options.js';
import { runMigrations } from './migrate.js';

describe('the database schema', () => {
  it('gives every user who existed before access control a global admin grant', async () => {
    const earlier = await createTestDatabase(inject('databaseAdminUrl'));
    try {
      const firstOnly = MIGRATIONS_GLOB.replace('[0-9]*-*.js', '1764288000000-*.js');
      const dataSource = new DataSource({ ...dataSourceOptions(earlier.url), migrations: [firstOnly] });
      await dataSource.initialize();
      await dataSource.runMigrations();
      await dataSource.destroy();
      await query(earlier.url, `INSERT INTO users (username, password_hash) VALUES ('admin', 'x'), ('ops', 'y')`);

      expect((await runMigrations(earlier.url))[0]).toBe('AccessControl1764460800000');
      const grants = await query(
        earlier.url,
        `SELECT u.username, r.name AS role, g.host_group_id FROM grants g
           JOIN users u ON u.id = g.user_id JOIN roles r ON r.id = g.role_id ORDER BY u.username`,
      );
      expect(grants).toEqual([
        { username: 'admin', role: 'admin', host_group_id: null },
        { username: 'ops', role: 'admin', host_group_id: null },
      ]);
    } finally {
      await earlier.drop();
    }
  });

  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseAdminUrl'));
  });
  afterAll(() => database?.drop());

  it('is built by the migrations, and running them again does nothing', async () => {
    expect((await runMigrations(database.url)).slice(0, 2)).toEqual([
      'InitialSchema1764288000000',
      'AccessControl1764460800000',
    ]);
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

  it('refuses a grant with no subject or with both a user and a team, and a duplicate global grant', async () => {
    const [user] = await query<{ id: string }>(
      database.url,
      `INSERT INTO users (username, password_hash) VALUES ('grant-check', 'x') RETURNING id`,
    );
    const [team] = await query<{ id: string }>(
      database.url,
      `INSERT INTO teams (name, description) VALUES ('grant-check', '') RETURNING id`,
    );
    const insert = (userId: string | null, teamId: string | null) =>
      query(
        database.url,
        `INSERT INTO grants (role_id, user_id, team_id) SELECT id, $1, $2 FROM roles WHERE name = 'viewer'`,
        [userId, teamId],
      );
    await expect(insert(null, null)).rejects.toThrow(/grants_subject_check/);
    await expect(insert(user.id, team.id)).rejects.toThrow(/grants_subject_check/);
    await insert(user.id, null);
    await expect(insert(user.id, null)).rejects.toThrow(/grants_subject_role_group_key/);
  });

  it("can be rolled back by each migration's down", async () => {
    const dataSource = new DataSource(dataSourceOptions(database.url));
    await dataSource.initialize();
    try {
      for (let left = dataSource.migrations.length; left > 0; left--) await dataSource.undoLastMigration();
      const tables = await dataSource.query(
        `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
      );
      expect(tables).toEqual([{ tablename: 'migrations' }]);
    } finally {
      await dataSource.destroy();
    }
  });
});
