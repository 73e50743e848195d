/*
 * The answers of /api/audit (server/src/dtos/audit.dto.ts). They belong in @skiff/protocol once
 * the server publishes them there.
 */

export type AuditOutcome = 'success' | 'failure' | 'denied';
export type AuditActorType = 'user' | 'token' | 'agent' | 'system' | 'anonymous';

export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'denied'];

export interface AuditEvent {
  /** Increasing; a string, as it may pass 2^53. */
  id: string;
  at: string;
  actorType: AuditActorType;
  actorId: string | null;
  actorName: string | null;
  userId: string | null;
  action: string;
  target: string | null;
  hostId: string | null;
  outcome: AuditOutcome;
  status: number | null;
  error: string | null;
  durationMs: number | null;
  address: string | null;
  client: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditPage {
  items: AuditEvent[];
  /** Pass as `cursor` for older rows; null at the end. */
  nextCursor: string | null;
}

export interface AuditVerification {
  ok: boolean;
  checked: number;
  firstRowId: string | null;
  lastRowId: string | null;
  brokenAt?: { id: string; reason: string };
}

export type AuditExportFormat = 'ndjson' | 'csv';
