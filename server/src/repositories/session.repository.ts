import { Injectable } from '@nestjs/common';
import { DataSource, LessThan, Not, type Repository } from 'typeorm';
import { SessionEntity } from '../entities/session.entity.js';
import type { UserEntity } from '../entities/user.entity.js';

export type NewSession = Pick<
  SessionEntity,
  'userId' | 'tokenHash' | 'csrfToken' | 'address' | 'userAgent' | 'expiresAt'
>;

@Injectable()
export class SessionRepository {
  private readonly sessions: Repository<SessionEntity>;

  constructor(dataSource: DataSource) {
    this.sessions = dataSource.getRepository(SessionEntity);
  }

  create(session: NewSession): Promise<SessionEntity> {
    return this.sessions.save(this.sessions.create({ ...session, lastUsedAt: new Date() }));
  }

  /** An unexpired session with its user (`user`), in one query: every browser call starts with it. */
  findUnexpiredByHash(tokenHash: string, now: Date): Promise<(SessionEntity & { user: UserEntity }) | null> {
    return this.sessions
      .createQueryBuilder('session')
      .innerJoinAndSelect('session.user', 'user')
      .where('session.tokenHash = :tokenHash AND session.expiresAt > :now', { tokenHash, now })
      .getOne() as Promise<(SessionEntity & { user: UserEntity }) | null>;
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.sessions.update({ id }, { lastUsedAt: at });
  }

  async deleteByHash(tokenHash: string): Promise<void> {
    await this.sessions.delete({ tokenHash });
  }

  /** Ends every session of the user but `exceptId`; returns the ids of those it ended. */
  async deleteForUser(userId: string, exceptId?: string): Promise<string[]> {
    const ended = await this.sessions.find({
      select: { id: true },
      where: exceptId === undefined ? { userId } : { userId, id: Not(exceptId) },
    });
    if (ended.length > 0) await this.sessions.delete(ended.map((session) => session.id));
    return ended.map((session) => session.id);
  }

  async deleteExpired(now: Date): Promise<void> {
    await this.sessions.delete({ expiresAt: LessThan(now) });
  }
}
