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

  findByHash(tokenHash: string): Promise<JoinTokenEntity | null> {
    return this.tokens.findOneBy({ tokenHash });
  }
}
