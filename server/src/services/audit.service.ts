import { Injectable } from '@nestjs/common';
import type { AuditActorType, AuditEventEntity, AuditOutcome } from '../entities/audit-event.entity.js';
import { invalidArgument } from '../errors/domain-error.js';
import { type AuditFilter, AuditRepository, type NewAuditEvent } from '../repositories/audit.repository.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditChainVerifier, type AuditVerification } from './audit-chain.js';
import { AUDIT_EXPORT_CONTENT_TYPES, type AuditExportFormat, csvHeader, csvLine, ndjsonLine } from './audit-export.js';
import { noteUnsuccessfulRecord } from './audit-scope.js';
import { Clock } from './clock.js';

export interface AuditRecord {
  /** What was done, e.g. `container.create`, `auth.login`, `http.POST /api/users`. */
  action: string;
  outcome: AuditOutcome;
  target?: string | null;
  hostId?: string | null;
  /** HTTP-like status of the request or call. */
  status?: number | null;
  /** What went wrong, for an outcome other than success. */
  error?: string | null;
  durationMs?: number | null;
  /** Facts of the event; a request body goes through `summariseBody` first. */
  details?: Record<string, unknown>;
}

/** An attach or exec session, for its one audit row written when it ends. */
export interface AuditSession {
  startedAt: Date;
  endedAt: Date;
  /** Bytes from the caller to the session (stdin). */
  bytesIn: number;
  /** Bytes from the session to the caller (stdout and stderr). */
  bytesOut: number;
  exitCode: number | null;
}

export type AuditWho =
  { actor: Actor } | { agent: { hostId: string; name: string } } | { anonymous: string | null } | { system: true };

export interface AuditPage {
  items: AuditEventEntity[];
  nextCursor: string | null;
}

export interface AuditExport {
  filename: string;
  contentType: string;
  /** The file, a batch of rows at a time, oldest first; read as it is sent, never whole in memory. */
  chunks: AsyncIterable<string>;
}

export interface RetentionResult {
  before: Date;
  removed: number;
  firstRemovedId: string | null;
  lastRemovedId: string | null;
  /** The `audit.retention` row that records the removal. */
  eventId: string;
}

export const DEFAULT_AUDIT_PAGE_SIZE = 50;
export const MAX_AUDIT_PAGE_SIZE = 500;
const EXPORT_BATCH = 500;
const VERIFY_BATCH = 1000;
const MAX_ERROR_LENGTH = 4000;
const DAY_MS = 24 * 3600 * 1000;

/** The tamper-evident audit log: who did what, where, when, from where, and how it ended. */
@Injectable()
export class AuditService {
  constructor(
    private readonly audit: AuditRepository,
    private readonly clock: Clock,
  ) {}

  async record(who: AuditWho, origin: RequestOrigin | null, entry: AuditRecord): Promise<void> {
    await this.audit.append(newEvent(who, origin, entry));
    if (entry.outcome !== 'success') noteUnsuccessfulRecord();
  }

  /** The one row of an attach or exec session: its start, end, bytes each way and exit code in `details.session`. */
  async recordSession(
    who: AuditWho,
    origin: RequestOrigin | null,
    entry: AuditRecord & { session: AuditSession },
  ): Promise<void> {
    const { session, ...record } = entry;
    await this.record(who, origin, {
      ...record,
      durationMs: record.durationMs ?? session.endedAt.getTime() - session.startedAt.getTime(),
      details: {
        ...record.details,
        session: {
          startedAt: session.startedAt.toISOString(),
          endedAt: session.endedAt.toISOString(),
          bytesIn: session.bytesIn,
          bytesOut: session.bytesOut,
          exitCode: session.exitCode,
        },
      },
    });
  }

  findById(id: string): Promise<AuditEventEntity | null> {
    return this.audit.findById(id);
  }

  /** Newest first, `limit` rows at a time; `cursor` is the `nextCursor` of the page before. */
  async search(filter: AuditFilter, cursor: string | null, limit = DEFAULT_AUDIT_PAGE_SIZE): Promise<AuditPage> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE_SIZE) {
      throw invalidArgument(`limit must be a whole number from 1 to ${MAX_AUDIT_PAGE_SIZE}`);
    }
    const rows = await this.audit.search(filter, cursor === null ? null : decodeCursor(cursor), limit + 1);
    const items = rows.slice(0, limit);
    return { items, nextCursor: rows.length > limit ? encodeCursor(items[items.length - 1].id) : null };
  }

  /** Walks the whole chain from its first row, a batch at a time, and names the first row that breaks it. */
  verify(batchSize = VERIFY_BATCH): Promise<AuditVerification> {
    return this.audit.readChain(async (reader) => {
      const verifier = new AuditChainVerifier();
      let afterId: string | null = null;
      for (;;) {
        const batch = await reader.batchAfter(afterId, batchSize);
        if (batch.length === 0) return verifier.result();
        let rows = batch;
        if (afterId === null) {
          const [first, ...rest] = batch;
          const vouchers = AuditChainVerifier.needsVoucher(first)
            ? await reader.retentionRowsVouchingFor(first.prevHash)
            : [];
          if (!verifier.check(first, vouchers)) return verifier.result();
          rows = rest;
        }
        for (const row of rows) {
          if (!verifier.check(row)) return verifier.result();
        }
        afterId = batch[batch.length - 1].id;
      }
    });
  }

  /**
   * The rows matching `filter` as a file, oldest first. The export is audited before it starts,
   * and covers the rows written until then.
   */
  async export(
    actor: Actor,
    origin: RequestOrigin,
    filter: AuditFilter,
    format: AuditExportFormat,
  ): Promise<AuditExport> {
    const upToId = await this.audit.lastId();
    await this.record({ actor }, origin, {
      action: 'audit.export',
      outcome: 'success',
      details: { format, filter: filterDetails(filter), upToId },
    });
    const stamp = this.clock.now().toISOString().replace(/[:.]/g, '-');
    return {
      filename: `skiff-audit-${stamp}.${format}`,
      contentType: AUDIT_EXPORT_CONTENT_TYPES[format],
      chunks: this.exportChunks(filter, format, upToId),
    };
  }

  /**
   * Removes the rows written more than `olderThanDays` days ago (the oldest part of the chain),
   * after recording in an `audit.retention` row how many, which ids, and the hash of the last one,
   * which the first row kept points to; `verify` accepts the chain starting there because of it.
   */
  async prune(actor: Actor, origin: RequestOrigin, olderThanDays: number): Promise<RetentionResult> {
    if (!Number.isInteger(olderThanDays) || olderThanDays < 1) {
      throw invalidArgument('olderThanDays must be a whole number of at least 1');
    }
    const before = new Date(this.clock.now().getTime() - olderThanDays * DAY_MS);
    const { plan, event, removed } = await this.audit.prune(before, (plan) =>
      newEvent({ actor }, origin, {
        action: 'audit.retention',
        outcome: 'success',
        details: {
          olderThanDays,
          before: before.toISOString(),
          removed: plan.count,
          firstId: plan.firstId,
          lastId: plan.lastId,
          lastRemovedHash: plan.lastRemovedHash,
        },
      }),
    );
    return { before, removed, firstRemovedId: plan.firstId, lastRemovedId: plan.lastId, eventId: event.id };
  }

  private async *exportChunks(
    filter: AuditFilter,
    format: AuditExportFormat,
    upToId: string | null,
  ): AsyncGenerator<string> {
    const line = format === 'csv' ? csvLine : ndjsonLine;
    if (format === 'csv') yield csvHeader();
    if (upToId === null) return;
    let afterId: string | null = null;
    for (;;) {
      const batch = await this.audit.scan(filter, afterId, upToId, EXPORT_BATCH);
      if (batch.length > 0) yield batch.map(line).join('');
      if (batch.length < EXPORT_BATCH) return;
      afterId = batch[batch.length - 1].id;
    }
  }
}

function newEvent(who: AuditWho, origin: RequestOrigin | null, entry: AuditRecord): NewAuditEvent {
  const error = entry.error ?? null;
  return {
    ...describe(who),
    action: entry.action,
    target: entry.target ?? null,
    hostId: entry.hostId ?? null,
    outcome: entry.outcome,
    status: entry.status ?? null,
    error: error !== null && error.length > MAX_ERROR_LENGTH ? `${error.slice(0, MAX_ERROR_LENGTH)}…` : error,
    durationMs: entry.durationMs === null || entry.durationMs === undefined ? null : Math.max(0, entry.durationMs),
    address: origin?.address ?? null,
    client: origin?.userAgent ?? null,
    details: entry.details ?? {},
  };
}

function describe(who: AuditWho): {
  actorType: AuditActorType;
  actorId: string | null;
  actorName: string | null;
  userId: string | null;
} {
  if ('actor' in who) {
    return {
      actorType: who.actor.kind,
      actorId: who.actor.kind === 'token' ? (who.actor.tokenId ?? null) : who.actor.userId,
      actorName: who.actor.username,
      userId: who.actor.userId,
    };
  }
  if ('agent' in who) {
    return { actorType: 'agent', actorId: who.agent.hostId, actorName: who.agent.name, userId: null };
  }
  if ('anonymous' in who) return { actorType: 'anonymous', actorId: null, actorName: who.anonymous, userId: null };
  return { actorType: 'system', actorId: null, actorName: 'skiff', userId: null };
}

/** The filter as the export's own audit row records it (dates as ISO strings, unset fields left out). */
function filterDetails(filter: AuditFilter): Record<string, string> {
  const details: Record<string, string> = {};
  for (const [key, value] of Object.entries(filter) as Array<[string, unknown]>) {
    if (value instanceof Date) details[key] = value.toISOString();
    else if (typeof value === 'string') details[key] = value;
  }
  return details;
}

/** Cursors are opaque to clients; inside, one is the id of the last row of the page before. */
function encodeCursor(id: string): string {
  return Buffer.from(`a:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^a:(\d{1,19})$/.exec(decoded);
  if (!match) throw invalidArgument('cursor is not one that GET /api/audit gave out');
  return match[1];
}
