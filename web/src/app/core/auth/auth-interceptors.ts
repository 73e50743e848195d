import { HttpErrorResponse, type HttpInterceptorFn } from '@angular/common/http';
import { inject } from '@angular/core';
import { catchError, throwError } from 'rxjs';

import { AUTH_PATHS } from './auth-api';
import { Session } from './session';

const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The server checks this header against the session on every request that changes something. */
export const csrfInterceptor: HttpInterceptorFn = (request, next) => {
  const token = inject(Session).csrfToken();
  if (token && MUTATING_METHODS.has(request.method) && isOwnApi(request.url)) {
    return next(request.clone({ setHeaders: { 'X-CSRF-Token': token } }));
  }
  return next(request);
};

/**
 * A 401 from anywhere but the sign-in and sign-out calls means the session ended on the server
 * (expired, revoked, server restarted): drop it and go to the sign-in page.
 */
export const sessionExpiryInterceptor: HttpInterceptorFn = (request, next) => {
  const session = inject(Session);
  return next(request).pipe(
    catchError((error: unknown) => {
      if (
        error instanceof HttpErrorResponse &&
        error.status === 401 &&
        isOwnApi(request.url) &&
        request.url !== AUTH_PATHS.login &&
        request.url !== AUTH_PATHS.logout
      ) {
        session.expire();
      }
      return throwError(() => error);
    }),
  );
};

function isOwnApi(url: string): boolean {
  return url.startsWith('/api/');
}
