import { HttpErrorResponse } from '@angular/common/http';
import { Injectable, computed, inject, signal } from '@angular/core';
import { Router } from '@angular/router';
import { firstValueFrom } from 'rxjs';

import { AuthApi } from './auth-api';
import type { Credentials, SessionUser } from './session-info';

interface SessionState {
  user: SessionUser;
  csrfToken: string | null;
}

export const SESSION_EXPIRED_MESSAGE = 'Your session has expired; sign in again.';

/**
 * Who is signed in, and the CSRF token that goes with the session cookie.
 * The cookie itself is HTTP-only: the browser holds it, this service only mirrors what the server said.
 */
@Injectable({ providedIn: 'root' })
export class Session {
  private readonly api = inject(AuthApi);
  private readonly router = inject(Router);

  private readonly current = signal<SessionState | null>(null);
  private readonly notice = signal<string | null>(null);
  private restoring: Promise<boolean> | null = null;

  readonly user = computed(() => this.current()?.user ?? null);
  readonly csrfToken = computed(() => this.current()?.csrfToken ?? null);
  readonly signedIn = computed(() => this.current() !== null);

  async signIn(credentials: Credentials): Promise<void> {
    const { user, csrfToken } = await firstValueFrom(this.api.login(credentials));
    this.current.set({ user, csrfToken });
    this.notice.set(null);
  }

  /**
   * Asks the server whether the cookie still names a session. Resolves false when it does not;
   * rejects on any other failure (server unreachable, 5xx) so the caller can say so.
   */
  restore(): Promise<boolean> {
    if (this.current()) {
      return Promise.resolve(true);
    }
    // Guards of parallel navigations share one request.
    this.restoring ??= firstValueFrom(this.api.me())
      .then(
        ({ user, csrfToken }) => {
          this.current.set({ user, csrfToken: csrfToken ?? null });
          return true;
        },
        (error: unknown) => {
          if (error instanceof HttpErrorResponse && error.status === 401) {
            return false;
          }
          throw error;
        },
      )
      .finally(() => {
        this.restoring = null;
      });
    return this.restoring;
  }

  /** Ends the session on the server, then here. A 401 means it had already ended: that is fine. */
  async signOut(): Promise<void> {
    try {
      await firstValueFrom(this.api.logout());
    } catch (error) {
      if (!(error instanceof HttpErrorResponse && error.status === 401)) {
        throw error;
      }
    }
    this.current.set(null);
    await this.router.navigateByUrl('/login');
  }

  /** The server no longer accepts the session (a 401 from the API or the socket). */
  expire(): void {
    if (!this.current()) {
      return;
    }
    const returnUrl = this.router.url;
    this.current.set(null);
    this.notice.set(SESSION_EXPIRED_MESSAGE);
    void this.router.navigate(['/login'], {
      queryParams: returnUrl.startsWith('/login') ? {} : { returnUrl },
    });
  }

  /** Leaves a message for the sign-in page, e.g. why the user was sent there. */
  leaveNotice(message: string): void {
    this.notice.set(message);
  }

  /** The message left for the sign-in page, once. */
  takeNotice(): string | null {
    const message = this.notice();
    this.notice.set(null);
    return message;
  }
}
