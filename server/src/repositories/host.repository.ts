import { Injectable } from '@nestjs/common';
import type { HostInventory } from '@skiff/protocol';
import { DataSource, IsNull, type Repository } from 'typeorm';
import { HostEntity } from '../entities/host.entity.js';
import { JoinTokenEntity } from '../entities/join-token.entity.js';

export type EnrolOutcome = { enrolled: HostEntity } | { refused: 'token-unusable' | 'key-taken' };

@Injectable()
export class HostRepository {
  private readonly hosts: Repository<HostEntity>;

  constructor(private readonly dataSource: DataSource) {
    this.hosts = dataSource.getRepository(HostEntity);
  }

  listActive(): Promise<HostEntity[]> {
    return this.hosts.find({ where: { revokedAt: IsNull() }, order: { name: 'ASC', createdAt: 'ASC' } });
  }

  findById(id: string): Promise<HostEntity | null> {
    return this.hosts.findOneBy({ id });
  }

  /**
   * Uses the join token and creates the host in one transaction: a token is used exactly once,
   * and a refused enrolment leaves the token as it was.
   */
  enrol(tokenHash: string, name: string, publicKey: string): Promise<EnrolOutcome> {
    return this.dataSource.transaction(async (manager) => {
      const used: unknown = await manager.query(
        `UPDATE join_tokens SET used_at = now()
          WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
          RETURNING id`,
        [tokenHash],
      );
      const tokenId = firstId(used);
      if (!tokenId) return { refused: 'token-unusable' as const };
      const taken = await manager.getRepository(HostEntity).existsBy({ publicKey });
      if (taken) {
        // Give the token back: the enrolment as a whole did not happen.
        await manager.getRepository(JoinTokenEntity).update({ id: tokenId }, { usedAt: null });
        return { refused: 'key-taken' as const };
      }
      const host = await manager.getRepository(HostEntity).save(
        manager.getRepository(HostEntity).create({
          name,
          publicKey,
          status: 'offline',
          lastSeenAt: null,
          inventory: null,
          labels: {},
          revokedAt: null,
        }),
      );
      await manager.getRepository(JoinTokenEntity).update({ id: tokenId }, { hostId: host.id });
      return { enrolled: host };
    });
  }

  async markOnline(id: string, inventory: HostInventory, at: Date): Promise<void> {
    await this.hosts.update({ id }, { status: 'online', inventory, lastSeenAt: at });
  }

  async markOffline(id: string): Promise<void> {
    await this.hosts.update({ id }, { status: 'offline' });
  }

  /** Marks offline every online host not heard from since `cutoff`; returns their ids. */
  async markSilentOffline(cutoff: Date): Promise<string[]> {
    const rows: unknown = await this.dataSource.query(
      `UPDATE hosts SET status = 'offline'
        WHERE status = 'online' AND (last_seen_at IS NULL OR last_seen_at < $1)
        RETURNING id`,
      [cutoff],
    );
    return idsOf(rows);
  }

  async setLabels(id: string, labels: Record<string, string>): Promise<void> {
    await this.hosts.update({ id }, { labels });
  }

  /** Returns false when the host does not exist or was already revoked. */
  async revoke(id: string, at: Date): Promise<boolean> {
    const result = await this.hosts.update({ id, revokedAt: IsNull() }, { revokedAt: at, status: 'offline' });
    return (result.affected ?? 0) > 0;
  }
}

/** `manager.query` on UPDATE … RETURNING answers `[rows, affectedCount]` with the pg driver. */
function idsOf(result: unknown): string[] {
  const rows = Array.isArray(result) && Array.isArray(result[0]) ? (result[0] as unknown[]) : (result as unknown[]);
  return rows.map((row) => (row as { id: string }).id);
}

function firstId(result: unknown): string | undefined {
  return idsOf(result)[0];
}
