import { Injectable } from '@nestjs/common';
import { type Permission, isPermission } from '@skiff/protocol';
import type { RoleEntity } from '../entities/role.entity.js';
import { conflict, invalidArgument, notFound } from '../errors/domain-error.js';
import { type NewRole, RoleRepository } from '../repositories/role.repository.js';
import { AccessService } from './access.service.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { LastUserManagerService } from './last-user-manager.service.js';
import { sortPermissions } from './permission-catalogue.js';

export interface RoleInput {
  name: string;
  description: string;
  permissions: readonly string[];
}

/** Roles: the built-in ones are read-only, custom ones can be made, changed and (when unused) deleted. */
@Injectable()
export class RoleService {
  constructor(
    private readonly roles: RoleRepository,
    private readonly access: AccessService,
    private readonly lastManager: LastUserManagerService,
    private readonly audit: AuditService,
  ) {}

  list(): Promise<RoleEntity[]> {
    return this.roles.list();
  }

  async get(id: string): Promise<RoleEntity> {
    const role = await this.roles.findById(id);
    if (!role) throw notFound(`no such role: ${id}`);
    return role;
  }

  async create(actor: Actor, input: RoleInput, origin: RequestOrigin): Promise<RoleEntity> {
    const role: NewRole = { name: input.name, description: input.description, permissions: checked(input.permissions) };
    if (await this.roles.findByName(role.name)) throw taken(role.name);
    const created = await this.roles.create(role);
    if (!created) throw taken(role.name);
    await this.audit.record({ actor }, origin, {
      action: 'role.create',
      outcome: 'success',
      target: created.id,
      details: { name: created.name, permissions: created.permissions },
    });
    return created;
  }

  async update(actor: Actor, id: string, input: Partial<RoleInput>, origin: RequestOrigin): Promise<RoleEntity> {
    const role = await this.editable(id, 'changed');
    const changes: Partial<NewRole> = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.description !== undefined) changes.description = input.description;
    if (input.permissions !== undefined) changes.permissions = checked(input.permissions);
    if (Object.keys(changes).length === 0) throw invalidArgument('give a new name, description or permissions');
    if (changes.name !== undefined) {
      const other = await this.roles.findByName(changes.name);
      if (other && other.id !== id) throw taken(changes.name);
    }
    if (
      changes.permissions &&
      !changes.permissions.includes('user.manage') &&
      role.permissions.includes('user.manage')
    ) {
      await this.lastManager.ensureOneRemains(
        `take user.manage from role ${role.name}`,
        (holding) => holding.roleId === id,
      );
    }
    const updated = await this.roles.update(id, changes);
    if (!updated) throw taken(changes.name ?? role.name);
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'role.update',
      outcome: 'success',
      target: id,
      details: {
        name: updated.name,
        ...(changes.name !== undefined ? { previousName: role.name } : {}),
        ...(changes.permissions ? { permissions: updated.permissions, previousPermissions: role.permissions } : {}),
      },
    });
    return updated;
  }

  async delete(actor: Actor, id: string, origin: RequestOrigin): Promise<void> {
    const role = await this.editable(id, 'deleted');
    const used = await this.roles.countGrants(id);
    if (used > 0) {
      throw conflict(
        `role ${role.name} is used by ${used} grant${used === 1 ? '' : 's'}; delete ${used === 1 ? 'it' : 'them'} first`,
      );
    }
    await this.roles.delete(id);
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'role.delete',
      outcome: 'success',
      target: id,
      details: { name: role.name },
    });
  }

  private async editable(id: string, what: 'changed' | 'deleted'): Promise<RoleEntity> {
    const role = await this.get(id);
    if (role.builtIn) throw conflict(`role ${role.name} is built in and cannot be ${what}; make a custom role instead`);
    return role;
  }
}

function checked(permissions: readonly string[]): Permission[] {
  const unknown = permissions.find((permission) => !isPermission(permission));
  if (unknown !== undefined) throw invalidArgument(`unknown permission: ${unknown}; see GET /api/permissions`);
  if (permissions.length === 0) throw invalidArgument('a role needs at least one permission');
  return sortPermissions(permissions.filter(isPermission));
}

const taken = (name: string) => conflict(`a role named "${name}" already exists`);
