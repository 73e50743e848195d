import { Injectable } from '@nestjs/common';
import type { Permission } from '@skiff/protocol';
import { ApiTokenRepository } from '../repositories/api-token.repository.js';
import { GrantRepository } from '../repositories/grant.repository.js';
import { UserRepository } from '../repositories/user.repository.js';
import { Access, type AccessHost } from './access.js';
import type { Actor } from './actor.js';
import { Clock } from './clock.js';

/** How long a caller's access is reused before it is worked out again (changes on other replicas). */
export const ACCESS_CACHE_TTL_MS = 5_000;
/** Past this many cached callers the cache starts over, so it cannot grow without bound. */
const MAX_CACHED = 10_000;

interface CachedAccess {
  access: Promise<Access>;
  expiresAt: number;
}

/**
 * Works out what a caller may do from their grants, their teams' grants and, for an API token,
 * its subset. On the hot path of every proxied Engine API call, so each caller's answer is kept
 * for up to 5 s: a hit is one Map lookup. Any change to users, tokens, roles, teams, groups or
 * grants made through this replica drops the whole cache; one made through another replica is
 * seen here within the TTL.
 */
@Injectable()
export class AccessService {
  private cache = new Map<string, CachedAccess>();
  private readonly invalidated: Array<() => void> = [];

  constructor(
    private readonly grants: GrantRepository,
    private readonly users: UserRepository,
    private readonly tokens: ApiTokenRepository,
    private readonly clock: Clock,
  ) {}

  resolve(actor: Actor): Promise<Access> {
    const key = actor.kind === 'token' ? `token:${actor.tokenId ?? ''}:${actor.userId}` : `user:${actor.userId}`;
    const now = this.clock.now().getTime();
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > now) return cached.access;

    if (this.cache.size >= MAX_CACHED) this.cache = new Map();
    const cache = this.cache;
    const access = this.load(actor);
    cache.set(key, { access, expiresAt: now + ACCESS_CACHE_TTL_MS });
    // A failed load is not kept: the next call tries again.
    access.catch(() => {
      if (cache.get(key)?.access === access) cache.delete(key);
    });
    return access;
  }

  /**
   * Forgets every caller's access. A load still running keeps its promise for the callers already
   * waiting on it, but it lands in the old map, so nobody gets it after this call.
   */
  invalidate(): void {
    this.cache = new Map();
    for (const listener of this.invalidated) listener();
  }

  /** Runs `listener` whenever the cache is dropped: another cache of who may do what follows it. */
  onInvalidate(listener: () => void): void {
    this.invalidated.push(listener);
  }

  /** Whether the caller may see the host at all (else it is as if it did not exist). */
  async hostVisible(actor: Actor, host: AccessHost): Promise<boolean> {
    return (await this.resolve(actor)).allows('host.view', host);
  }

  /** Whether the caller holds the permission on every host. */
  async allowsGlobally(actor: Actor, permission: Permission): Promise<boolean> {
    return (await this.resolve(actor)).allowsGlobally(permission);
  }

  private async load(actor: Actor): Promise<Access> {
    const [user, grants, token] = await Promise.all([
      this.users.findById(actor.userId),
      this.grants.effectiveFor(actor.userId),
      actor.kind === 'token' && actor.tokenId ? this.tokens.findById(actor.tokenId) : Promise.resolve(null),
    ]);
    if (!user || user.disabledAt) return Access.none();
    if (actor.kind === 'token' && (!token || token.userId !== user.id || token.revokedAt)) return Access.none();
    return Access.from({ disabled: false, grants, tokenPermissions: token?.permissions ?? null });
  }
}
