import { type ErrorKind, HTTP_STATUS_OF_ERROR_KIND } from '@skiff/protocol';

/** The one place where an error kind becomes an HTTP status (the table is shared with the agent). */
export function httpStatusOf(kind: ErrorKind): number {
  return HTTP_STATUS_OF_ERROR_KIND[kind];
}

export function errorKindOfStatus(status: number): ErrorKind {
  switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return 'invalid-argument';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 409:
      return 'conflict';
    case 429:
      return 'too-many-requests';
    case 503:
      return 'unavailable';
    default:
      return status >= 400 && status < 500 ? 'invalid-argument' : 'internal';
  }
}
