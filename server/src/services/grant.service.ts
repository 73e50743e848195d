import { Injectable } from '@nestjs/common';
import type { GrantEntity } from '../entities/grant.entity.js';
import { conflict, invalidArgument, notFound } from '../errors/domain-error.js';
import { type GrantFilter, GrantRepository } from '../repositories/grant.repository.js';
import { HostGroupRepository } from '../repositories/host-group.repository.js';
import { RoleRepository } from '../repositories/role.repository.js';
import { TeamRepository } from '../repositories/team.repository.js';
import { UserRepository } from '../repositories/user.repository.js';
import { AccessService } from './access.service.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { LastUserManagerService } from './last-user-manager.service.js';

export interface GrantInput {
  roleId: string;
  userId?: string;
  teamId?: string;
  /** Omitted or null: on every host. */
  hostGroupId?: string | null;
}

/** Grants: a role for a user or a team, on every host or on a host group. */
@Injectable()
export class GrantService {
  constructor(
    private readonly grants: GrantRepository,
    private readonly roles: RoleRepository,
    private readonly users: UserRepository,
    private readonly teams: TeamRepository,
    private readonly groups: HostGroupRepository,
    private readonly access: AccessService,
    private readonly lastManager: LastUserManagerService,
    private readonly audit: AuditService,
  ) {}

  list(filter: GrantFilter): Promise<GrantEntity[]> {
    return this.grants.list(filter);
  }

  async create(actor: Actor, input: GrantInput, origin: RequestOrigin): Promise<GrantEntity> {
    if ((input.userId === undefined) === (input.teamId === undefined)) {
      throw invalidArgument('a grant is for exactly one of userId or teamId');
    }
    const role = await this.roles.findById(input.roleId);
    if (!role) throw notFound(`no such role: ${input.roleId}`);
    const user = input.userId === undefined ? null : await this.users.findById(input.userId);
    if (input.userId !== undefined && !user) throw notFound(`no such user: ${input.userId}`);
    const team = input.teamId === undefined ? null : await this.teams.findById(input.teamId);
    if (input.teamId !== undefined && !team) throw notFound(`no such team: ${input.teamId}`);
    const group = input.hostGroupId ? await this.groups.findById(input.hostGroupId) : null;
    if (input.hostGroupId && !group) throw notFound(`no such host group: ${input.hostGroupId}`);

    const subject = user ? `user ${user.username}` : `team ${team?.name ?? ''}`;
    const scope = group ? `host group ${group.name}` : 'every host';
    const grant = await this.grants.create({
      roleId: role.id,
      userId: user?.id ?? null,
      teamId: team?.id ?? null,
      hostGroupId: group?.id ?? null,
      createdBy: actor.userId,
    });
    if (!grant) throw conflict(`${subject} already has role ${role.name} on ${scope}`);
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'grant.create',
      outcome: 'success',
      target: grant.id,
      details: {
        role: role.name,
        ...(user ? { userId: user.id, username: user.username } : { teamId: team?.id, team: team?.name }),
        hostGroup: group?.name ?? null,
      },
    });
    return grant;
  }

  async delete(actor: Actor, id: string, origin: RequestOrigin): Promise<void> {
    const grant = await this.grants.findById(id);
    if (!grant) throw notFound(`no such grant: ${id}`);
    await this.lastManager.ensureOneRemains('delete this grant', (holding) => holding.grantId === id);
    await this.grants.delete(id);
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'grant.delete',
      outcome: 'success',
      target: id,
      details: {
        role: grant.role?.name ?? grant.roleId,
        ...(grant.userId ? { userId: grant.userId, username: grant.user?.username } : {}),
        ...(grant.teamId ? { teamId: grant.teamId, team: grant.team?.name } : {}),
        hostGroup: grant.hostGroup?.name ?? null,
      },
    });
  }
}
