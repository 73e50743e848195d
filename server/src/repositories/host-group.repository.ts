import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { HostGroupEntity } from '../entities/host-group.entity.js';
import { unlessTaken } from './unique-violation.js';

export type NewHostGroup = Pick<HostGroupEntity, 'name' | 'description' | 'selector'>;

@Injectable()
export class HostGroupRepository {
  private readonly groups: Repository<HostGroupEntity>;

  constructor(dataSource: DataSource) {
    this.groups = dataSource.getRepository(HostGroupEntity);
  }

  list(): Promise<HostGroupEntity[]> {
    return this.groups.createQueryBuilder('g').orderBy('lower(g.name)', 'ASC').getMany();
  }

  findById(id: string): Promise<HostGroupEntity | null> {
    return this.groups.findOneBy({ id });
  }

  findByName(name: string): Promise<HostGroupEntity | null> {
    return this.groups.createQueryBuilder('g').where('lower(g.name) = lower(:name)', { name }).getOne();
  }

  /** Null when the name is taken. */
  create(group: NewHostGroup): Promise<HostGroupEntity | null> {
    return unlessTaken(this.groups.save(this.groups.create(group)));
  }

  /** Null when the new name is taken. */
  async update(id: string, changes: Partial<NewHostGroup>): Promise<HostGroupEntity | null> {
    const updated = await unlessTaken(this.groups.update({ id }, changes));
    return updated === null ? null : this.groups.findOneByOrFail({ id });
  }

  /** Deletes the group and, with it, every grant on it. */
  async delete(id: string): Promise<boolean> {
    const result = await this.groups.delete({ id });
    return (result.affected ?? 0) > 0;
  }
}
