import { AsyncLocalStorage } from 'node:async_hooks';

interface AuditScope {
  /** A row with an outcome other than success has been written for this request. */
  unsuccessfulRecorded: boolean;
}

const scopes = new AsyncLocalStorage<AuditScope>();

/**
 * Runs one HTTP request's handling (guards, handler, exception filter) in its own audit scope, so
 * that the denied-request row is left out when the request has written its own row of the failure.
 */
export function runInAuditScope<T>(work: () => T): T {
  return scopes.run({ unsuccessfulRecorded: false }, work);
}

export function noteUnsuccessfulRecord(): void {
  const scope = scopes.getStore();
  if (scope) scope.unsuccessfulRecorded = true;
}

export function unsuccessfulRecordedInScope(): boolean {
  return scopes.getStore()?.unsuccessfulRecorded ?? false;
}
