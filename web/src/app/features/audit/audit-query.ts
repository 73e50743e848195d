import type { AuditOutcome } from './audit-dtos';

/** The filters as the form holds them: empty strings for "any". */
export interface AuditFilterForm {
  actor: string;
  action: string;
  outcome: AuditOutcome | '';
  hostId: string;
  target: string;
  /** `datetime-local` values: local wall time, no zone. */
  from: string;
  to: string;
  q: string;
}

export const EMPTY_AUDIT_FILTERS: AuditFilterForm = {
  actor: '',
  action: '',
  outcome: '',
  hostId: '',
  target: '',
  from: '',
  to: '',
  q: '',
};

/** The attach and exec sessions: one row each, written when the session ends. */
export const SESSION_ACTIONS = ['exec.start', 'container.attach'] as const;
export type SessionAction = (typeof SESSION_ACTIONS)[number];

/**
 * The query parameters of GET /api/audit and /api/audit/export for these filters: blanks left out,
 * text trimmed, local times turned into ISO 8601 instants as the server wants them.
 */
export function auditQueryParams(filters: AuditFilterForm): Record<string, string> {
  const params: Record<string, string> = {};
  for (const key of ['actor', 'action', 'outcome', 'hostId', 'target', 'q'] as const) {
    const value = filters[key].trim();
    if (value !== '') {
      params[key] = value;
    }
  }
  for (const key of ['from', 'to'] as const) {
    const instant = toInstant(filters[key]);
    if (instant) {
      params[key] = instant;
    }
  }
  return params;
}

/** A `datetime-local` value as an ISO instant, or null when blank or not a date. */
export function toInstant(local: string): string | null {
  if (local.trim() === '') {
    return null;
  }
  const time = new Date(local);
  return Number.isNaN(time.getTime()) ? null : time.toISOString();
}
