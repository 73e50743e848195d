import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';

import type { Credentials, Me, SignedIn } from './session-info';

export const AUTH_PATHS = {
  login: '/api/auth/login',
  logout: '/api/auth/logout',
  me: '/api/auth/me',
} as const;

/** The REST calls of the session; state lives in `Session`. */
@Injectable({ providedIn: 'root' })
export class AuthApi {
  private readonly http = inject(HttpClient);

  login(credentials: Credentials): Observable<SignedIn> {
    return this.http.post<SignedIn>(AUTH_PATHS.login, credentials);
  }

  me(): Observable<Me> {
    return this.http.get<Me>(AUTH_PATHS.me);
  }

  logout(): Observable<unknown> {
    return this.http.post(AUTH_PATHS.logout, null);
  }
}
