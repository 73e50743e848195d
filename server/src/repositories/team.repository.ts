import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { TeamMemberEntity } from '../entities/team-member.entity.js';
import { TeamEntity } from '../entities/team.entity.js';
import type { UserEntity } from '../entities/user.entity.js';
import { unlessTaken } from './unique-violation.js';

export type NewTeam = Pick<TeamEntity, 'name' | 'description'>;

export interface TeamWithCount {
  team: TeamEntity;
  memberCount: number;
}

@Injectable()
export class TeamRepository {
  private readonly teams: Repository<TeamEntity>;
  private readonly members: Repository<TeamMemberEntity>;

  constructor(dataSource: DataSource) {
    this.teams = dataSource.getRepository(TeamEntity);
    this.members = dataSource.getRepository(TeamMemberEntity);
  }

  async list(): Promise<TeamWithCount[]> {
    const { entities, raw } = await this.teams
      .createQueryBuilder('t')
      .addSelect((sub) => sub.select('count(*)::int').from(TeamMemberEntity, 'm').where('m.team_id = t.id'), 'members')
      .orderBy('lower(t.name)', 'ASC')
      .getRawAndEntities<{ members: number }>();
    return entities.map((team, index) => ({ team, memberCount: raw[index]?.members ?? 0 }));
  }

  findById(id: string): Promise<TeamEntity | null> {
    return this.teams.findOneBy({ id });
  }

  findByName(name: string): Promise<TeamEntity | null> {
    return this.teams.createQueryBuilder('t').where('lower(t.name) = lower(:name)', { name }).getOne();
  }

  /** Null when the name is taken. */
  create(team: NewTeam): Promise<TeamEntity | null> {
    return unlessTaken(this.teams.save(this.teams.create(team)));
  }

  /** Null when the new name is taken. */
  async update(id: string, changes: Partial<NewTeam>): Promise<TeamEntity | null> {
    const updated = await unlessTaken(this.teams.update({ id }, changes));
    return updated === null ? null : this.teams.findOneByOrFail({ id });
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.teams.delete({ id });
    return (result.affected ?? 0) > 0;
  }

  async listMembers(teamId: string): Promise<UserEntity[]> {
    const rows = await this.members.find({
      where: { teamId },
      relations: { user: true },
      order: { user: { username: 'ASC' } },
    });
    return rows.flatMap((row) => (row.user ? [row.user] : []));
  }

  /** Returns false when the user was a member already. */
  async addMember(teamId: string, userId: string): Promise<boolean> {
    const result = await this.members
      .createQueryBuilder()
      .insert()
      .values({ teamId, userId })
      .orIgnore()
      .returning(['team_id'])
      .execute();
    return (result.raw as unknown[]).length > 0;
  }

  /** Returns false when the user was not a member. */
  async removeMember(teamId: string, userId: string): Promise<boolean> {
    const result = await this.members.delete({ teamId, userId });
    return (result.affected ?? 0) > 0;
  }

  /** The teams a user is in, by name. */
  async teamsOf(userId: string): Promise<TeamEntity[]> {
    const rows = await this.members.find({ where: { userId }, relations: { team: true } });
    return rows
      .flatMap((row) => (row.team ? [row.team] : []))
      .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
  }
}
