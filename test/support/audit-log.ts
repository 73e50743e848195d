import { vi } from 'vitest';
import { query } from './database.js';

const DAY_MS = 24 * 3600 * 1000;

/** Runs SQL as the superuser with the append-only triggers off, as someone with full database access could. */
export async function tamper(url: string, sql: string, values: unknown[] = []): Promise<void> {
  await query(url, 'ALTER TABLE audit_events DISABLE TRIGGER USER');
  try {
    await query(url, sql, values);
  } finally {
    await query(url, 'ALTER TABLE audit_events ENABLE TRIGGER USER');
  }
}

/** The ids of the audit log, oldest first. */
export async function auditRowIds(url: string): Promise<string[]> {
  return (await query<{ id: string }>(url, 'SELECT id FROM audit_events ORDER BY id')).map((row) => row.id);
}

/**
 * Runs `work` with the clock `days` days away (negative: in the past), so that audit rows written
 * meanwhile carry that time: the audit repository stamps rows with the time of day. Timers run as usual.
 */
export async function withClockMoved<T>(days: number, work: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(new Date(Date.now() + days * DAY_MS));
    return await work();
  } finally {
    vi.useRealTimers();
  }
}
