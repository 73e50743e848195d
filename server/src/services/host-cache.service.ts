import { Injectable } from '@nestjs/common';
import type { HostEntity } from '../entities/host.entity.js';
import { HostRepository } from '../repositories/host.repository.js';
import { ACCESS_CACHE_TTL_MS } from './access.service.js';
import { Clock } from './clock.js';

/** Past this many cached hosts the cache starts over, so it cannot grow without bound. */
const MAX_CACHED = 10_000;

interface CachedHost {
  host: Promise<HostEntity | null>;
  expiresAt: number;
}

/**
 * Host rows for the hot path of the engine proxy, where every call names its host: each row is
 * kept for as long as a caller's access is (5 s), so a call costs no query for it. Changes made
 * through this replica (labels, revocation) drop the row at once; one made through another
 * replica is seen here within the TTL, as for access.
 */
@Injectable()
export class HostCacheService {
  private cache = new Map<string, CachedHost>();

  constructor(
    private readonly hosts: HostRepository,
    private readonly clock: Clock,
  ) {}

  find(id: string): Promise<HostEntity | null> {
    const now = this.clock.now().getTime();
    const cached = this.cache.get(id);
    if (cached && cached.expiresAt > now) return cached.host;
    if (this.cache.size >= MAX_CACHED) this.cache = new Map();
    const cache = this.cache;
    const host = this.hosts.findById(id);
    cache.set(id, { host, expiresAt: now + ACCESS_CACHE_TTL_MS });
    // A failed lookup is not kept: the next call tries again.
    host.catch(() => {
      if (cache.get(id)?.host === host) cache.delete(id);
    });
    return host;
  }

  /** Drops a host whose row changed, so the next call reads it again. */
  forget(id: string): void {
    this.cache.delete(id);
  }
}
