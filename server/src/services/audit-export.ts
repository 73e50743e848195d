import type { AuditActorType, AuditEventEntity, AuditOutcome } from '../entities/audit-event.entity.js';

/** An audit row as the API shows and exports it. */
export interface AuditEventView {
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

export function auditEventView(event: AuditEventEntity): AuditEventView {
  return {
    id: event.id,
    at: event.at.toISOString(),
    actorType: event.actorType,
    actorId: event.actorId,
    actorName: event.actorName,
    userId: event.userId,
    action: event.action,
    target: event.target,
    hostId: event.hostId,
    outcome: event.outcome,
    status: event.status,
    error: event.error,
    durationMs: event.durationMs,
    address: event.address,
    client: event.client,
    details: event.details,
    prevHash: event.prevHash,
    hash: event.hash,
  };
}

export const AUDIT_EXPORT_FORMATS = ['ndjson', 'csv'] as const;
export type AuditExportFormat = (typeof AUDIT_EXPORT_FORMATS)[number];

export const AUDIT_EXPORT_CONTENT_TYPES: Readonly<Record<AuditExportFormat, string>> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/** One JSON document per line (`\n`). */
export function ndjsonLine(event: AuditEventEntity): string {
  return `${JSON.stringify(auditEventView(event))}\n`;
}

const CSV_COLUMNS: ReadonlyArray<keyof AuditEventView> = [
  'id',
  'at',
  'actorType',
  'actorId',
  'actorName',
  'userId',
  'action',
  'target',
  'hostId',
  'outcome',
  'status',
  'error',
  'durationMs',
  'address',
  'client',
  'details',
  'prevHash',
  'hash',
];

export function csvHeader(): string {
  return csvRecord(CSV_COLUMNS);
}

/** One CSV record; `details` is a JSON cell. */
export function csvLine(event: AuditEventEntity): string {
  const view = auditEventView(event);
  return csvRecord(
    CSV_COLUMNS.map((column) => {
      const value = view[column];
      if (value === null) return '';
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    }),
  );
}

/** RFC 4180: CRLF after each record, fields with a comma, quote or line break quoted, quotes doubled. */
function csvRecord(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/**
 * One CSV field. A cell that a spreadsheet would read as a formula (starting with `=`, `+`, `-`,
 * `@`, a tab or a carriage return) gets a leading `'`, so an actor name like `=HYPERLINK(…)`
 * stays text.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
