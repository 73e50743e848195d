import { MIGRATIONS_GLOB } from '@skiff/migrations';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tamper, withClockMoved } from '../../../test/support/audit-log.js';
import { createTestDatabase, query, type TestDatabase } from '../../../test/support/database.js';
import { dataSourceOptions } from '../database/data-source-options.js';
import { runMigrations } from '../database/migrate.js';
import type { Actor } from '../services/actor.js';
import { AuditService } from '../services/audit.service.js';
import { Clock } from '../services/clock.js';
import { AuditRepository } from './audit.repository.js';

describe(AuditRepository.name, () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let audit: AuditService;

  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseAdminUrl'));
    await runMigrations(database.url);
    dataSource = new DataSource(dataSourceOptions(database.url));
    await dataSource.initialize();
    audit = new AuditService(new AuditRepository(dataSource), new Clock());
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  it('is refused UPDATE, DELETE and TRUNCATE on its own connection', async () => {
    await audit.record({ system: true }, null, { action: 'refusal.test', outcome: 'success' });
    await expect(dataSource.query(`UPDATE audit_events SET outcome = 'denied'`)).rejects.toThrow(/append-only/);
    await expect(dataSource.query('DELETE FROM audit_events')).rejects.toThrow(/append-only/);
    await expect(dataSource.query('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
    expect(await audit.verify()).toMatchObject({ ok: true });
  });

  it('stores what PostgreSQL text cannot hold as replacement characters, and the row still verifies', async () => {
    await audit.record(
      { anonymous: 'a\u0000b' },
      { address: null, userAgent: 'x'.repeat(2000) },
      {
        action: 'storable.test',
        outcome: 'failure',
        error: 'half a pair: \uD83D',
        details: { nested: { text: 'nul \u0000 here' }, skipped: undefined, when: new Date(0) },
      },
    );
    const [row] = await query(
      database.url,
      `SELECT actor_name, client, error, details FROM audit_events WHERE action = 'storable.test'`,
    );
    expect(row).toEqual({
      actor_name: 'a\uFFFDb',
      client: 'x'.repeat(512),
      error: 'half a pair: \uFFFD',
      details: { nested: { text: 'nul \uFFFD here' }, when: '1970-01-01T00:00:00.000Z' },
    });
    expect(await audit.verify()).toMatchObject({ ok: true });
  });

  it('writes one row for an exec session with its start, end, bytes each way and exit code', async () => {
    const actor: Actor = { kind: 'user', userId: '1e037bea-5260-4911-b105-76e5dc8ec57e', username: 'admin' };
    await audit.recordSession(
      { actor },
      { address: '10.0.0.2', userAgent: 'Docker-Client/27.3.1' },
      {
        action: 'exec.start',
        outcome: 'success',
        hostId: 'c0ffee00-0000-4000-8000-000000000000',
        target: 'e1',
        status: 101,
        details: { route: 'POST /exec/{id}/start' },
        session: {
          startedAt: new Date('2026-11-28T10:00:00.000Z'),
          endedAt: new Date('2026-11-28T10:00:02.500Z'),
          bytesIn: 12,
          bytesOut: 3400,
          exitCode: 0,
        },
      },
    );
    const [row] = await query(
      database.url,
      `SELECT user_id, status, duration_ms, client, details FROM audit_events WHERE action = 'exec.start'`,
    );
    expect(row).toEqual({
      user_id: actor.userId,
      status: 101,
      duration_ms: 2500,
      client: 'Docker-Client/27.3.1',
      details: {
        route: 'POST /exec/{id}/start',
        session: {
          startedAt: '2026-11-28T10:00:00.000Z',
          endedAt: '2026-11-28T10:00:02.500Z',
          bytesIn: 12,
          bytesOut: 3400,
          exitCode: 0,
        },
      },
    });
  });

  it('never forks the chain under concurrent appends', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        audit.record({ system: true }, null, { action: 'race.test', outcome: 'success', target: String(i) }),
      ),
    );
    const [{ rows, prevs }] = await query<{ rows: string; prevs: string }>(
      database.url,
      'SELECT count(*) AS rows, count(DISTINCT prev_hash) AS prevs FROM audit_events',
    );
    expect(prevs).toBe(rows);
    expect(await audit.verify()).toMatchObject({ ok: true, checked: Number(rows) });
  });

  it('walks a long chain in batches', async () => {
    for (let i = 0; i < 120; i++)
      await audit.record({ system: true }, null, { action: 'batch.test', outcome: 'success' });
    const [{ rows }] = await query<{ rows: string }>(database.url, 'SELECT count(*) AS rows FROM audit_events');
    expect(await audit.verify(7)).toMatchObject({ ok: true, checked: Number(rows) });
  });
});

describe('the audit table, owned by a role that is no superuser', () => {
  const suffix = randomBytes(4).toString('hex');
  const role = `skiff_owner_${suffix}`;
  const password = randomBytes(12).toString('hex');
  let adminUrl: string;
  let database: TestDatabase;
  let url: string;
  let dataSource: DataSource;
  let audit: AuditService;

  beforeAll(async () => {
    adminUrl = inject('databaseAdminUrl');
    await query(adminUrl, `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    database = await createTestDatabase(adminUrl);
    const name = new URL(database.url).pathname.slice(1);
    await query(adminUrl, `ALTER DATABASE ${name} OWNER TO ${role}`);
    await query(database.url, `ALTER SCHEMA public OWNER TO ${role}`);
    const owned = new URL(database.url);
    owned.username = role;
    owned.password = password;
    url = owned.toString();
    await runMigrations(url);
    dataSource = new DataSource(dataSourceOptions(url));
    await dataSource.initialize();
    audit = new AuditService(new AuditRepository(dataSource), new Clock());
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
    await query(adminUrl, `DROP ROLE IF EXISTS ${role}`);
  });

  it('refuses UPDATE, DELETE and TRUNCATE for lack of the privilege, whatever the prune flag says', async () => {
    await audit.record({ system: true }, null, { action: 'owner.test', outcome: 'success' });
    await expect(query(url, `UPDATE audit_events SET action = 'forged'`)).rejects.toThrow(/permission denied/);
    await expect(query(url, 'TRUNCATE audit_events')).rejects.toThrow(/permission denied/);
    await expect(
      query(url, `BEGIN; SELECT set_config('skiff.audit_prune', 'on', true); DELETE FROM audit_events; COMMIT`),
    ).rejects.toThrow(/permission denied/);
  });

  it('prunes through audit_events_prune alone, and takes the privilege back afterwards', async () => {
    const root: Actor = { kind: 'user', userId: '00000000-0000-4000-8000-000000000000', username: 'root' };
    // Two days from now, the row written above is older than a day.
    const result = await withClockMoved(2, () => audit.prune(root, { address: null, userAgent: null }, 1));
    expect(result.removed).toBe(1);
    expect(await audit.verify()).toMatchObject({ ok: true, checked: 1 });
    await expect(query(url, 'DELETE FROM audit_events')).rejects.toThrow(/permission denied/);
  });
});

describe('rows written before the audit detail migration', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  /** The hash as the first version of the log computed it, over `details` in the key order it was built in. */
  function firstVersionHash(prevHash: string, row: Record<string, unknown>): string {
    return createHash('sha256')
      .update(
        JSON.stringify([
          prevHash,
          (row.at as Date).toISOString(),
          row.actorType,
          row.actorId,
          row.actorName,
          row.action,
          row.target,
          row.hostId,
          row.outcome,
          row.address,
          row.details,
        ]),
      )
      .digest('hex');
  }

  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseAdminUrl'));
    const initialOnly = MIGRATIONS_GLOB.replace('[0-9]*-*.js', '1764288000000-*.js');
    const initial = new DataSource({ ...dataSourceOptions(database.url), migrations: [initialOnly] });
    await initial.initialize();
    await initial.runMigrations();
    await initial.destroy();

    // As the bootstrap and a sign-in wrote them: details keys in an order jsonb does not keep.
    let prevHash = '0'.repeat(64);
    const rows = [
      {
        actorType: 'system',
        actorId: null,
        actorName: 'skiff',
        action: 'user.create',
        target: 'u1',
        hostId: null,
        outcome: 'success',
        address: null,
        details: { username: 'admin', reason: 'first start' },
      },
      {
        actorType: 'anonymous',
        actorId: null,
        actorName: 'admin',
        action: 'auth.login',
        target: null,
        hostId: null,
        outcome: 'failure',
        address: '10.0.0.9',
        details: { reason: 'wrong-credentials' },
      },
      {
        actorType: 'user',
        actorId: '1e037bea-5260-4911-b105-76e5dc8ec57e',
        actorName: 'admin',
        action: 'token.create',
        target: 't1',
        hostId: null,
        outcome: 'success',
        address: '10.0.0.9',
        details: { name: 'ci', expiresAt: null },
      },
    ];
    for (const [index, row] of rows.entries()) {
      const at = new Date(Date.UTC(2026, 10, 1, 12, 0, index, 123));
      const hash = firstVersionHash(prevHash, { ...row, at });
      await query(
        database.url,
        `INSERT INTO audit_events (at, actor_type, actor_id, actor_name, action, target, host_id, outcome, address, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          at,
          row.actorType,
          row.actorId,
          row.actorName,
          row.action,
          row.target,
          row.hostId,
          row.outcome,
          row.address,
          JSON.stringify(row.details),
          prevHash,
          hash,
        ],
      );
      prevHash = hash;
    }
    await runMigrations(database.url);
    dataSource = new DataSource(dataSourceOptions(database.url));
    await dataSource.initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  it('keep verifying after it, chained to the rows written since', async () => {
    const audit = new AuditService(new AuditRepository(dataSource), new Clock());
    await audit.record({ system: true }, null, { action: 'after.migration', outcome: 'success', status: 200 });
    const versions = await query<{ hash_version: number }>(
      database.url,
      'SELECT hash_version FROM audit_events ORDER BY id',
    );
    expect(versions.map((row) => row.hash_version)).toEqual([1, 1, 1, 2]);
    expect(await audit.verify()).toEqual({ ok: true, checked: 4, firstRowId: '1', lastRowId: '4' });
  });

  it('still name a changed row among them', async () => {
    const audit = new AuditService(new AuditRepository(dataSource), new Clock());
    await tamper(
      database.url,
      `UPDATE audit_events SET details = '{"reason": "other", "username": "admin"}' WHERE id = 1`,
    );
    expect((await audit.verify()).brokenAt?.id).toBe('1');
  });
});
