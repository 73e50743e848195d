import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { AuditActorType, AuditEventEntity, AuditOutcome } from '../entities/audit-event.entity.js';
import { CURRENT_HASH_VERSION, GENESIS_HASH, auditEventHash } from './audit-hash.js';

export type NewAuditEvent = Omit<AuditEventEntity, 'id' | 'at' | 'prevHash' | 'hash' | 'hashVersion'>;

/** Which rows a search or an export is about; every field narrows it. */
export interface AuditFilter {
  /** A user, token or host id (also matching the user behind a token), or an actor's name. */
  actor?: string;
  /** An exact action, or a prefix followed by `*` (`container.*`). */
  action?: string;
  outcome?: AuditOutcome;
  hostId?: string;
  target?: string;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  /** Case-insensitive text within the action, the target or the actor's name. */
  q?: string;
}

/** The rows a retention run removes: a prefix of the chain. */
export interface RetentionPlan {
  before: Date;
  count: number;
  firstId: string | null;
  lastId: string | null;
  /** The hash of the last row removed: the prev_hash of the first row kept. */
  lastRemovedHash: string | null;
}

/** Reads the chain in id order from one snapshot, so rows appended or pruned meanwhile do not interfere. */
export interface AuditChainReader {
  /** Up to `limit` rows after `afterId` (from the first row when null), oldest first. */
  batchAfter(afterId: string | null, limit: number): Promise<AuditEventEntity[]>;
  /** The retention rows that say they removed a row with this hash. */
  retentionRowsVouchingFor(lastRemovedHash: string): Promise<AuditEventEntity[]>;
}

const COLUMNS = `"id", "at", "actor_type", "actor_id", "actor_name", "user_id", "action", "target", "host_id",
  "outcome", "status", "error", "duration_ms", "address", "client", "details", "hash_version", "prev_hash", "hash"`;

interface AuditRow {
  id: string;
  at: Date;
  actor_type: AuditActorType;
  actor_id: string | null;
  actor_name: string | null;
  user_id: string | null;
  action: string;
  target: string | null;
  host_id: string | null;
  outcome: AuditOutcome;
  status: number | null;
  error: string | null;
  duration_ms: number | null;
  address: string | null;
  client: string | null;
  details: Record<string, unknown>;
  hash_version: number;
  prev_hash: string;
  hash: string;
}

/** Concurrent appends from any replica or the CLI take turns on this lock, so the chain never forks. */
const APPEND_LOCK = `SELECT pg_advisory_xact_lock(hashtext('skiff.audit_events'))`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The audit log: an append-only table whose rows each carry the hash of the row before. Plain SQL
 * rather than entities on the paths that see many rows (search, export, verify), which spares the
 * hydration of each row.
 */
@Injectable()
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Appends one event, chained to the one before it. */
  append(event: NewAuditEvent): Promise<AuditEventEntity> {
    return this.dataSource.transaction((manager) => appendIn(manager, event));
  }

  findById(id: string): Promise<AuditEventEntity | null> {
    return this.selectOne(`SELECT ${COLUMNS} FROM "audit_events" WHERE "id" = $1`, [id]);
  }

  /** Newest first: up to `limit` rows matching `filter` with an id below `beforeId`. */
  async search(filter: AuditFilter, beforeId: string | null, limit: number): Promise<AuditEventEntity[]> {
    const params: unknown[] = [];
    const where = whereOf(filter, params);
    if (beforeId !== null) where.push(`"id" < ${param(params, beforeId)}`);
    const rows = await this.dataSource.query<AuditRow[]>(
      `SELECT ${COLUMNS} FROM "audit_events" ${clause(where)} ORDER BY "id" DESC LIMIT ${param(params, limit)}`,
      params,
    );
    return rows.map(fromRow);
  }

  /** Oldest first: up to `limit` rows matching `filter` with an id in (`afterId`, `upToId`]. */
  async scan(filter: AuditFilter, afterId: string | null, upToId: string, limit: number): Promise<AuditEventEntity[]> {
    const params: unknown[] = [];
    const where = whereOf(filter, params);
    if (afterId !== null) where.push(`"id" > ${param(params, afterId)}`);
    where.push(`"id" <= ${param(params, upToId)}`);
    const rows = await this.dataSource.query<AuditRow[]>(
      `SELECT ${COLUMNS} FROM "audit_events" ${clause(where)} ORDER BY "id" ASC LIMIT ${param(params, limit)}`,
      params,
    );
    return rows.map(fromRow);
  }

  async lastId(): Promise<string | null> {
    const [row] = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT "id" FROM "audit_events" ORDER BY "id" DESC LIMIT 1`,
    );
    return row?.id ?? null;
  }

  /** Runs `work` with a reader of one consistent snapshot of the whole log. */
  readChain<T>(work: (reader: AuditChainReader) => Promise<T>): Promise<T> {
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      const select = async (sql: string, params: unknown[]) =>
        (await manager.query<AuditRow[]>(sql, params)).map(fromRow);
      return work({
        batchAfter: (afterId, limit) =>
          afterId === null
            ? select(`SELECT ${COLUMNS} FROM "audit_events" ORDER BY "id" ASC LIMIT $1`, [limit])
            : select(`SELECT ${COLUMNS} FROM "audit_events" WHERE "id" > $1 ORDER BY "id" ASC LIMIT $2`, [
                afterId,
                limit,
              ]),
        retentionRowsVouchingFor: (lastRemovedHash) =>
          select(
            `SELECT ${COLUMNS} FROM "audit_events"
             WHERE "action" = 'audit.retention' AND "details" ->> 'lastRemovedHash' = $1 ORDER BY "id" ASC`,
            [lastRemovedHash],
          ),
      });
    });
  }

  /**
   * Removes the rows before the first one written at or after `before`, through the database's
   * one path for it (`audit_events_prune`), right after appending the row `describe` makes of what
   * is removed; all in one transaction, so either both happen or neither does.
   */
  prune(
    before: Date,
    describe: (plan: RetentionPlan) => NewAuditEvent,
  ): Promise<{ plan: RetentionPlan; event: AuditEventEntity; removed: number }> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(APPEND_LOCK);
      const [range] = await manager.query<Array<{ count: string; first_id: string | null; last_id: string | null }>>(
        `WITH "first_kept" AS (SELECT min("id") AS "id" FROM "audit_events" WHERE "at" >= $1)
         SELECT count(*) AS "count", min("audit_events"."id") AS "first_id", max("audit_events"."id") AS "last_id"
         FROM "audit_events", "first_kept"
         WHERE "first_kept"."id" IS NULL OR "audit_events"."id" < "first_kept"."id"`,
        [before],
      );
      let lastRemovedHash: string | null = null;
      if (range.last_id !== null) {
        const [last] = await manager.query<Array<{ hash: string }>>(
          `SELECT "hash" FROM "audit_events" WHERE "id" = $1`,
          [range.last_id],
        );
        lastRemovedHash = last.hash;
      }
      const plan: RetentionPlan = {
        before,
        count: Number(range.count),
        firstId: range.first_id,
        lastId: range.last_id,
        lastRemovedHash,
      };
      const event = await appendIn(manager, describe(plan));
      const [pruned] = await manager.query<Array<{ removed: string }>>(`SELECT "audit_events_prune"($1) AS "removed"`, [
        before,
      ]);
      const removed = Number(pruned.removed);
      if (removed !== plan.count) {
        throw new Error(`audit retention removed ${removed} rows where it planned ${plan.count}`);
      }
      return { plan, event, removed };
    });
  }

  private async selectOne(sql: string, params: unknown[]): Promise<AuditEventEntity | null> {
    const [row] = await this.dataSource.query<AuditRow[]>(sql, params);
    return row ? fromRow(row) : null;
  }
}

async function appendIn(manager: EntityManager, event: NewAuditEvent): Promise<AuditEventEntity> {
  // The lock comes before the read in its own statement: a statement's snapshot is taken when it starts.
  await manager.query(APPEND_LOCK);
  const [last] = await manager.query<Array<{ hash: string }>>(
    `SELECT "hash" FROM "audit_events" ORDER BY "id" DESC LIMIT 1`,
  );
  const prevHash = last?.hash ?? GENESIS_HASH;
  const row = { ...storable(event), at: new Date(), hashVersion: CURRENT_HASH_VERSION };
  const hash = auditEventHash(prevHash, row);
  const [inserted] = await manager.query<Array<{ id: string }>>(
    `INSERT INTO "audit_events" ("at", "actor_type", "actor_id", "actor_name", "user_id", "action", "target",
       "host_id", "outcome", "status", "error", "duration_ms", "address", "client", "details", "hash_version",
       "prev_hash", "hash")
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16, $17, $18)
     RETURNING "id"`,
    [
      row.at,
      row.actorType,
      row.actorId,
      row.actorName,
      row.userId,
      row.action,
      row.target,
      row.hostId,
      row.outcome,
      row.status,
      row.error,
      row.durationMs,
      row.address,
      row.client,
      JSON.stringify(row.details),
      row.hashVersion,
      prevHash,
      hash,
    ],
  );
  return { id: inserted.id, ...row, prevHash, hash };
}

/**
 * The event as the table stores it, so that the hash covers exactly what is stored: strings cut
 * to their column's length, no NUL characters or lone surrogates (PostgreSQL text takes neither),
 * whole milliseconds, and `details` as jsonb will give it back (no `undefined`, no Dates).
 */
function storable(event: NewAuditEvent): NewAuditEvent {
  return {
    actorType: event.actorType,
    actorId: text(event.actorId, 64),
    actorName: text(event.actorName, 255),
    userId: event.userId,
    action: text(event.action, 100) ?? '',
    target: text(event.target, 512),
    hostId: event.hostId,
    outcome: event.outcome,
    status: integer(event.status),
    error: text(event.error, 100_000),
    durationMs: integer(event.durationMs),
    address: text(event.address, 64),
    client: text(event.client, 512),
    details: JSON.parse(
      JSON.stringify(event.details ?? {}, (_key, value: unknown) =>
        typeof value === 'string' ? sanitise(value) : value,
      ),
    ) as Record<string, unknown>,
  };
}

function text(value: string | null, maxLength: number): string | null {
  if (value === null) return null;
  const clean = sanitise(value);
  // varchar(n) counts code points, and a surrogate pair must not be split.
  return clean.length <= maxLength ? clean : Array.from(clean).slice(0, maxLength).join('');
}

function integer(value: number | null): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  return Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(value)));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function sanitise(value: string): string {
  return value.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}

function fromRow(row: AuditRow): AuditEventEntity {
  return {
    id: row.id,
    at: row.at,
    actorType: row.actor_type,
    actorId: row.actor_id,
    actorName: row.actor_name,
    userId: row.user_id,
    action: row.action,
    target: row.target,
    hostId: row.host_id,
    outcome: row.outcome,
    status: row.status,
    error: row.error,
    durationMs: row.duration_ms,
    address: row.address,
    client: row.client,
    details: row.details,
    hashVersion: row.hash_version,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function param(params: unknown[], value: unknown): string {
  params.push(value);
  return `$${params.length}`;
}

function clause(where: string[]): string {
  return where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
}

function whereOf(filter: AuditFilter, params: unknown[]): string[] {
  const where: string[] = [];
  if (filter.actor !== undefined) {
    const actor = param(params, filter.actor);
    where.push(
      UUID.test(filter.actor)
        ? `("actor_id" = ${actor} OR "user_id" = ${actor}::uuid)`
        : `("actor_name" = ${actor} OR "actor_id" = ${actor})`,
    );
  }
  if (filter.action !== undefined) {
    where.push(
      filter.action.endsWith('*')
        ? `"action" LIKE ${param(params, `${likeEscape(filter.action.slice(0, -1))}%`)}`
        : `"action" = ${param(params, filter.action)}`,
    );
  }
  if (filter.outcome !== undefined) where.push(`"outcome" = ${param(params, filter.outcome)}`);
  if (filter.hostId !== undefined) where.push(`"host_id" = ${param(params, filter.hostId)}`);
  if (filter.target !== undefined) where.push(`"target" = ${param(params, filter.target)}`);
  if (filter.from !== undefined) where.push(`"at" >= ${param(params, filter.from)}`);
  if (filter.to !== undefined) where.push(`"at" < ${param(params, filter.to)}`);
  if (filter.q !== undefined) {
    const q = param(params, `%${likeEscape(filter.q)}%`);
    where.push(`("action" ILIKE ${q} OR "target" ILIKE ${q} OR "actor_name" ILIKE ${q})`);
  }
  return where;
}

/** LIKE's default escape character is the backslash. */
function likeEscape(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`);
}
