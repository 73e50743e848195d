import type { AuditEvent } from './audit-dtos';

/** What the audit row of an attach or exec session says about it (`details.session`). */
export interface SessionFacts {
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  /** Bytes from the caller to the session (stdin). */
  bytesIn: number | null;
  /** Bytes from the session to the caller (stdout and stderr). */
  bytesOut: number | null;
  exitCode: number | null;
}

export function sessionFacts(event: AuditEvent): SessionFacts | null {
  const session = event.details['session'];
  if (typeof session !== 'object' || session === null) {
    return null;
  }
  const facts = session as Record<string, unknown>;
  return {
    startedAt: stringOrNull(facts['startedAt']),
    endedAt: stringOrNull(facts['endedAt']),
    durationMs: event.durationMs,
    bytesIn: numberOrNull(facts['bytesIn']),
    bytesOut: numberOrNull(facts['bytesOut']),
    exitCode: numberOrNull(facts['exitCode']),
  };
}

/** 950 → "950 ms", 61500 → "1 min 1.5 s", 7_260_000 → "2 h 1 min". */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) {
    return '—';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  const seconds = ms / 1000;
  if (seconds < 60) {
    return `${Number(seconds.toFixed(1))} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ${Number((seconds % 60).toFixed(1))} s`;
  }
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
