import { Injectable } from '@nestjs/common';
import { DataSource, IsNull, type Repository } from 'typeorm';
import { ApiTokenEntity } from '../entities/api-token.entity.js';
import type { UserEntity } from '../entities/user.entity.js';

export type NewApiToken = Pick<
  ApiTokenEntity,
  'userId' | 'name' | 'tokenHash' | 'prefix' | 'expiresAt' | 'permissions'
>;

@Injectable()
export class ApiTokenRepository {
  private readonly tokens: Repository<ApiTokenEntity>;

  constructor(dataSource: DataSource) {
    this.tokens = dataSource.getRepository(ApiTokenEntity);
  }

  create(token: NewApiToken): Promise<ApiTokenEntity> {
    return this.tokens.save(this.tokens.create({ ...token, lastUsedAt: null, revokedAt: null }));
  }

  findById(id: string): Promise<ApiTokenEntity | null> {
    return this.tokens.findOneBy({ id });
  }

  /** An unrevoked token with its owner (`user`), in one query: every API call starts with it. */
  findActiveByHash(tokenHash: string): Promise<(ApiTokenEntity & { user: UserEntity }) | null> {
    return this.tokens
      .createQueryBuilder('token')
      .innerJoinAndSelect('token.user', 'user')
      .where('token.tokenHash = :tokenHash AND token.revokedAt IS NULL', { tokenHash })
      .getOne() as Promise<(ApiTokenEntity & { user: UserEntity }) | null>;
  }

  listForUser(userId: string): Promise<ApiTokenEntity[]> {
    return this.tokens.find({ where: { userId, revokedAt: IsNull() }, order: { createdAt: 'DESC' } });
  }

  /** Returns false when the user has no such active token. */
  async revoke(userId: string, id: string, at: Date): Promise<boolean> {
    const result = await this.tokens.update({ id, userId, revokedAt: IsNull() }, { revokedAt: at });
    return (result.affected ?? 0) > 0;
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.tokens.update({ id }, { lastUsedAt: at });
  }
}
