import { createHash } from 'node:crypto';
import type { AuditEventEntity } from '../entities/audit-event.entity.js';

/** The `prev_hash` of the first row ever written. */
export const GENESIS_HASH = '0'.repeat(64);

/** The canonical form new rows are hashed with. */
export const CURRENT_HASH_VERSION = 2;

/** What a row's hash covers: everything but its id, its own hash and its prev_hash (which is hashed alongside). */
export type HashedAuditEvent = Omit<AuditEventEntity, 'id' | 'prevHash' | 'hash'>;

/**
 * The hash of a row chained to `prevHash`, in the canonical form of its `hashVersion`:
 *
 * - 2: every column, with `details` as canonical JSON (keys sorted), so the hash does not depend on
 *   the key order jsonb gives back.
 * - 1: the columns the log had at first, with `details` in the key order its writer built it in.
 *   jsonb does not keep that order; {@link auditEventHashMatches} tries the orders it could have had.
 */
export function auditEventHash(prevHash: string, event: HashedAuditEvent): string {
  switch (event.hashVersion) {
    case 1:
      return hashV1(prevHash, event, event.details);
    case 2:
      return sha256(
        canonicalJson([
          'skiff.audit.v2',
          prevHash,
          event.at.toISOString(),
          event.actorType,
          event.actorId,
          event.actorName,
          event.userId,
          event.action,
          event.target,
          event.hostId,
          event.outcome,
          event.status,
          event.error,
          event.durationMs,
          event.address,
          event.client,
          event.details,
        ]),
      );
    default:
      throw new Error(`unknown audit hash version ${event.hashVersion}`);
  }
}

/** Version 1 writers built `details` from a handful of flat keys; orders are tried up to this many keys. */
const MAX_V1_PERMUTED_KEYS = 6;

/** Whether `hash` is the hash of the row as stored (for version 1, in any key order of its `details`). */
export function auditEventHashMatches(prevHash: string, event: HashedAuditEvent, hash: string): boolean {
  if (auditEventHash(prevHash, event) === hash) return true;
  if (event.hashVersion !== 1) return false;
  const keys = Object.keys(event.details);
  if (keys.length < 2 || keys.length > MAX_V1_PERMUTED_KEYS) return false;
  for (const order of permutations(keys)) {
    const details = Object.fromEntries(order.map((key) => [key, event.details[key]]));
    if (hashV1(prevHash, event, details) === hash) return true;
  }
  return false;
}

function hashV1(prevHash: string, event: HashedAuditEvent, details: Record<string, unknown>): string {
  return sha256(
    JSON.stringify([
      prevHash,
      event.at.toISOString(),
      event.actorType,
      event.actorId,
      event.actorName,
      event.action,
      event.target,
      event.hostId,
      event.outcome,
      event.address,
      details,
    ]),
  );
}

/** JSON with the keys of every object in sorted order; `undefined` members are left out as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const members = Object.keys(value)
    .sort()
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${members.join(',')}}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const tail of permutations(rest)) yield [items[i], ...tail];
  }
}
