import type { ErrorKind } from '@skiff/protocol';

/** The one place where an error kind becomes an HTTP status. */
export function httpStatusOf(kind: ErrorKind): number {
  switch (kind) {
    case 'invalid-argument':
      return 400;
    case 'unauthenticated':
      return 401;
    case 'forbidden':
      return 403;
    case 'not-found':
      return 404;
    case 'conflict':
      return 409;
    case 'too-many-requests':
      return 429;
    case 'unavailable':
      return 503;
    case 'internal':
      return 500;
  }
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
