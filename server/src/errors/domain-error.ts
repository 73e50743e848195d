import type { ErrorKind } from '@skiff/protocol';

/**
 * An error the caller can act on: its kind decides the HTTP status, its message is shown as is.
 * `details` are machine-readable facts for the client (e.g. `{ totpRequired: true }`), added to
 * the error body next to kind and message; never secrets.
 */
export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details?: Readonly<Record<string, string | number | boolean>>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalidArgument = (message: string) => new DomainError('invalid-argument', message);
export const unauthenticated = (message: string, details?: DomainError['details']) =>
  new DomainError('unauthenticated', message, details);
export const forbidden = (message: string) => new DomainError('forbidden', message);
export const notFound = (message: string) => new DomainError('not-found', message);
export const conflict = (message: string) => new DomainError('conflict', message);
export const tooManyRequests = (message: string) => new DomainError('too-many-requests', message);
