import { HttpErrorResponse } from '@angular/common/http';
import type { ErrorBody } from '@skiff/protocol';

/**
 * The one place that turns a failure into a sentence for the user. The server already writes
 * messages meant for people (`ErrorBody.message`), so those win; the rest is a fallback by status.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof HttpErrorResponse) {
    return httpErrorMessage(error);
  }
  if (isErrorBody(error)) {
    return withReference(error.message, error.correlationId);
  }
  if (error instanceof Error && error.message) {
    return error.message;
  }
  return 'Something went wrong. Try again.';
}

export function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const candidate = value as Partial<Record<keyof ErrorBody, unknown>>;
  return typeof candidate.kind === 'string' && typeof candidate.message === 'string' && candidate.message !== '';
}

function httpErrorMessage(error: HttpErrorResponse): string {
  if (isErrorBody(error.error)) {
    return withReference(error.error.message, error.error.correlationId);
  }
  // A proxy or a crashed server may answer with something that is not our JSON error body.
  switch (error.status) {
    case 0:
      return 'Cannot reach the Skiff server. Check your connection and try again.';
    case 400:
      return 'The server did not accept the request.';
    case 401:
      return 'You are not signed in.';
    case 403:
      return 'You are not allowed to do that.';
    case 404:
      return 'The requested item no longer exists.';
    case 429:
      return 'Too many attempts. Wait a moment and try again.';
    default:
      return error.status >= 500
        ? `The server could not complete the request (HTTP ${error.status}). Try again.`
        : `The request failed (HTTP ${error.status}).`;
  }
}

function withReference(message: string, correlationId: string | undefined): string {
  return correlationId ? `${message} (reference: ${correlationId})` : message;
}
