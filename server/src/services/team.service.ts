import { Injectable } from '@nestjs/common';
import type { TeamEntity } from '../entities/team.entity.js';
import type { UserEntity } from '../entities/user.entity.js';
import { conflict, invalidArgument, notFound } from '../errors/domain-error.js';
import { type NewTeam, TeamRepository, type TeamWithCount } from '../repositories/team.repository.js';
import { UserRepository } from '../repositories/user.repository.js';
import { AccessService } from './access.service.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { LastUserManagerService } from './last-user-manager.service.js';

export interface TeamWithMembers {
  team: TeamEntity;
  members: UserEntity[];
}

/** Teams: grants to a team reach every member. */
@Injectable()
export class TeamService {
  constructor(
    private readonly teams: TeamRepository,
    private readonly users: UserRepository,
    private readonly access: AccessService,
    private readonly lastManager: LastUserManagerService,
    private readonly audit: AuditService,
  ) {}

  list(): Promise<TeamWithCount[]> {
    return this.teams.list();
  }

  async get(id: string): Promise<TeamWithMembers> {
    const team = await this.find(id);
    return { team, members: await this.teams.listMembers(id) };
  }

  async create(actor: Actor, team: NewTeam, origin: RequestOrigin): Promise<TeamWithMembers> {
    if (await this.teams.findByName(team.name)) throw taken(team.name);
    const created = await this.teams.create(team);
    if (!created) throw taken(team.name);
    await this.audit.record({ actor }, origin, {
      action: 'team.create',
      outcome: 'success',
      target: created.id,
      details: { name: created.name },
    });
    return { team: created, members: [] };
  }

  async update(actor: Actor, id: string, changes: Partial<NewTeam>, origin: RequestOrigin): Promise<TeamWithMembers> {
    const team = await this.find(id);
    if (changes.name === undefined && changes.description === undefined) {
      throw invalidArgument('give a new name or description');
    }
    if (changes.name !== undefined) {
      const other = await this.teams.findByName(changes.name);
      if (other && other.id !== id) throw taken(changes.name);
    }
    const updated = await this.teams.update(id, changes);
    if (!updated) throw taken(changes.name ?? team.name);
    await this.audit.record({ actor }, origin, {
      action: 'team.update',
      outcome: 'success',
      target: id,
      details: { name: updated.name, ...(changes.name !== undefined ? { previousName: team.name } : {}) },
    });
    return this.get(id);
  }

  /** Deletes the team and its grants; its members stay. */
  async delete(actor: Actor, id: string, origin: RequestOrigin): Promise<void> {
    const team = await this.find(id);
    await this.lastManager.ensureOneRemains(`delete team ${team.name}`, (holding) => holding.teamId === id);
    await this.teams.delete(id);
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'team.delete',
      outcome: 'success',
      target: id,
      details: { name: team.name },
    });
  }

  /** Adding a member twice changes nothing. */
  async addMember(actor: Actor, teamId: string, userId: string, origin: RequestOrigin): Promise<void> {
    const team = await this.find(teamId);
    const user = await this.users.findById(userId);
    if (!user) throw notFound(`no such user: ${userId}`);
    if (!(await this.teams.addMember(teamId, userId))) return;
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'team.member-add',
      outcome: 'success',
      target: teamId,
      details: { team: team.name, userId, username: user.username },
    });
  }

  async removeMember(actor: Actor, teamId: string, userId: string, origin: RequestOrigin): Promise<void> {
    const team = await this.find(teamId);
    const user = await this.users.findById(userId);
    const name = user?.username ?? userId;
    await this.lastManager.ensureOneRemains(
      `remove ${name} from team ${team.name}`,
      (holding) => holding.teamId === teamId && holding.userId === userId,
    );
    if (!(await this.teams.removeMember(teamId, userId))) {
      throw notFound(`${name} is not a member of team ${team.name}`);
    }
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'team.member-remove',
      outcome: 'success',
      target: teamId,
      details: { team: team.name, userId, username: user?.username ?? null },
    });
  }

  private async find(id: string): Promise<TeamEntity> {
    const team = await this.teams.findById(id);
    if (!team) throw notFound(`no such team: ${id}`);
    return team;
  }
}

const taken = (name: string) => conflict(`a team named "${name}" already exists`);
