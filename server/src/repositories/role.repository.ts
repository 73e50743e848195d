import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { GrantEntity } from '../entities/grant.entity.js';
import { RoleEntity } from '../entities/role.entity.js';
import { unlessTaken } from './unique-violation.js';

export type NewRole = Pick<RoleEntity, 'name' | 'description' | 'permissions'>;

@Injectable()
export class RoleRepository {
  private readonly roles: Repository<RoleEntity>;
  private readonly grants: Repository<GrantEntity>;

  constructor(dataSource: DataSource) {
    this.roles = dataSource.getRepository(RoleEntity);
    this.grants = dataSource.getRepository(GrantEntity);
  }

  /** Built-in roles first, then by name. */
  list(): Promise<RoleEntity[]> {
    return this.roles
      .createQueryBuilder('r')
      .orderBy('r.built_in', 'DESC')
      .addOrderBy('lower(r.name)', 'ASC')
      .getMany();
  }

  findById(id: string): Promise<RoleEntity | null> {
    return this.roles.findOneBy({ id });
  }

  findByName(name: string): Promise<RoleEntity | null> {
    return this.roles.createQueryBuilder('r').where('lower(r.name) = lower(:name)', { name }).getOne();
  }

  /** Null when the name is taken. */
  create(role: NewRole): Promise<RoleEntity | null> {
    return unlessTaken(this.roles.save(this.roles.create({ ...role, builtIn: false })));
  }

  /** Null when the new name is taken. */
  async update(id: string, changes: Partial<NewRole>): Promise<RoleEntity | null> {
    const updated = await unlessTaken(this.roles.update({ id, builtIn: false }, changes));
    return updated === null ? null : this.roles.findOneByOrFail({ id });
  }

  /** Returns false when there was no such custom role. */
  async delete(id: string): Promise<boolean> {
    const result = await this.roles.delete({ id, builtIn: false });
    return (result.affected ?? 0) > 0;
  }

  countGrants(roleId: string): Promise<number> {
    return this.grants.countBy({ roleId });
  }
}
