import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { GrantEntity } from '../entities/grant.entity.js';
import { RoleEntity } from '../entities/role.entity.js';
import { UserEntity } from '../entities/user.entity.js';
import { unlessTaken } from './unique-violation.js';

export type TotpState = Pick<UserEntity, 'totpSecret' | 'totpEnabledAt'>;

@Injectable()
export class UserRepository {
  private readonly users: Repository<UserEntity>;

  constructor(private readonly dataSource: DataSource) {
    this.users = dataSource.getRepository(UserEntity);
  }

  list(): Promise<UserEntity[]> {
    return this.users.createQueryBuilder('u').orderBy('lower(u.username)', 'ASC').getMany();
  }

  findById(id: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ id });
  }

  findByUsername(username: string): Promise<UserEntity | null> {
    return this.users.createQueryBuilder('u').where('lower(u.username) = lower(:username)', { username }).getOne();
  }

  count(): Promise<number> {
    return this.users.count();
  }

  /** Null when the username is taken (in any letter case). */
  create(username: string, passwordHash: string): Promise<UserEntity | null> {
    return unlessTaken(this.users.save(this.newUser(username, passwordHash)));
  }

  /** Creates the user with a grant of the named role on every host, in one transaction. */
  createWithGlobalRole(username: string, passwordHash: string, roleName: string): Promise<UserEntity> {
    return this.dataSource.transaction(async (manager) => {
      const role = await manager.getRepository(RoleEntity).findOneByOrFail({ name: roleName });
      const user = await manager.getRepository(UserEntity).save(this.newUser(username, passwordHash));
      await manager
        .getRepository(GrantEntity)
        .save({ roleId: role.id, userId: user.id, teamId: null, hostGroupId: null, createdBy: null });
      return user;
    });
  }

  /** Returns false when there is no such user. */
  async setDisabled(id: string, disabledAt: Date | null): Promise<boolean> {
    const result = await this.users.update({ id }, { disabledAt });
    return (result.affected ?? 0) > 0;
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.users.update({ id }, { passwordHash });
  }

  /** A new secret, a confirmed one, or none; a new secret starts with no step used. */
  async setTotp(id: string, totp: TotpState): Promise<void> {
    await this.users.update({ id }, { ...totp, totpLastStep: null });
  }

  /** Puts a stored secret in force; the step its confirming code used stays used. */
  async setTotpEnabled(id: string, at: Date): Promise<void> {
    await this.users.update({ id }, { totpEnabledAt: at });
  }

  /**
   * Records that the code of `step` was accepted, unless that step or a later one already was:
   * returns false for a code used before (possibly on another replica).
   */
  async useTotpStep(id: string, step: number): Promise<boolean> {
    const result = await this.users
      .createQueryBuilder()
      .update()
      .set({ totpLastStep: String(step) })
      .where('id = :id AND (totp_last_step IS NULL OR totp_last_step < :step)', { id, step })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /** Deletes the user with their sessions, tokens, memberships and grants. */
  async delete(id: string): Promise<boolean> {
    const result = await this.users.delete({ id });
    return (result.affected ?? 0) > 0;
  }

  private newUser(username: string, passwordHash: string): UserEntity {
    return this.users.create({
      username,
      passwordHash,
      disabledAt: null,
      totpSecret: null,
      totpEnabledAt: null,
      totpLastStep: null,
    });
  }
}
