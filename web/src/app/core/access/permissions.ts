import { HttpClient } from '@angular/common/http';
import { Injectable, computed, effect, inject, signal, untracked, type Signal } from '@angular/core';
import type { Permission } from '@skiff/protocol';
import { firstValueFrom } from 'rxjs';

import { Session } from '../auth/session';
import { errorMessage } from '../errors/error-message';

/** GET /api/me/permissions. */
export interface MyPermissions {
  global: Permission[];
  hostGroups: { group: { id: string; name: string }; permissions: Permission[] }[];
  hosts: Record<string, Permission[]>;
}

/**
 * What the signed-in user may do, so the console can hide or disable what they may not. Only a
 * convenience: the server decides every call again.
 */
@Injectable({ providedIn: 'root' })
export class Permissions {
  private readonly http = inject(HttpClient);
  private readonly session = inject(Session);

  private readonly current = signal<MyPermissions | null>(null);
  private readonly failure = signal<string | null>(null);
  private loading: Promise<void> | null = null;

  /** False until the first answer arrives. */
  readonly loaded = computed(() => this.current() !== null);
  readonly error = this.failure.asReadonly();

  constructor() {
    // Another user may sign in next: their permissions are asked for afresh.
    effect(() => {
      const user = this.session.user();
      untracked(() => {
        this.current.set(null);
        if (user) void this.refresh();
      });
    });
  }

  /** Asks the server again (e.g. after an unexpected 403). */
  refresh(): Promise<void> {
    this.loading ??= firstValueFrom(this.http.get<MyPermissions>('/api/me/permissions'))
      .then(
        (permissions) => {
          this.current.set(permissions);
          this.failure.set(null);
        },
        (error: unknown) => this.failure.set(errorMessage(error)),
      )
      .finally(() => (this.loading = null));
    return this.loading;
  }

  /** Whether the user holds `permission` on `hostId` (or, without a host, everywhere). */
  can(permission: Permission, hostId?: string): Signal<boolean> {
    return computed(() => this.holds(permission, hostId));
  }

  /** The same, read once (inside a template or computed it tracks the permissions). */
  holds(permission: Permission, hostId?: string): boolean {
    const permissions = this.current();
    if (!permissions) return false;
    if (permissions.global.includes(permission)) return true;
    return hostId !== undefined && (permissions.hosts[hostId]?.includes(permission) ?? false);
  }

  /** Why an action is not offered, for a tooltip; null when it is allowed. */
  reason(permission: Permission, hostId?: string): string | null {
    if (this.holds(permission, hostId)) return null;
    if (!this.current()) return 'Checking your permissions…';
    return hostId
      ? `You need the ${permission} permission on this host; ask an administrator for a grant.`
      : `You need the ${permission} permission; ask an administrator for a grant.`;
  }
}
