import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { JoinTokenEntity } from '../entities/join-token.entity.js';

@Injectable()
export class JoinTokenRepository {
  private readonly tokens: Repository<JoinTokenEntity>;

  constructor(dataSource: DataSource) {
    this.tokens = dataSource.getRepository(JoinTokenEntity);
  }

  create(tokenHash: string, createdBy: string | null, expiresAt: Date): Promise<JoinTokenEntity> {
    return this.tokens.save(this.tokens.create({ tokenHash, createdBy, expiresAt, usedAt: null, hostId: null }));
  }

  findById(id: string): Promise<JoinTokenEntity | null> {
    return this.tokens.findOneBy({ id });
  }

  /** Makes an unused token unusable at once (an install that failed before its agent enrolled). */
  async expire(id: string, at: Date): Promise<void> {
    await this.tokens
      .createQueryBuilder()
      .update()
      .set({ expiresAt: at })
      .where('id = :id AND used_at IS NULL AND expires_at > :at', { id, at })
      .execute();
  }

  findByHash(tokenHash: string): Promise<JoinTokenEntity | null> {
    return this.tokens.findOneBy({ tokenHash });
  }
}
