import { Injectable } from '@nestjs/common';
import type { HostEntity } from '../entities/host.entity.js';
import type { HostGroupEntity } from '../entities/host-group.entity.js';
import { conflict, invalidArgument, notFound } from '../errors/domain-error.js';
import { HostGroupRepository, type NewHostGroup } from '../repositories/host-group.repository.js';
import { HostRepository } from '../repositories/host.repository.js';
import { selectorMatches } from './access.js';
import { AccessService } from './access.service.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { parseLabels } from './host-labels.js';

export interface HostGroupWithHosts {
  group: HostGroupEntity;
  /** The active hosts whose labels match the selector now. */
  hosts: HostEntity[];
}

export interface HostGroupInput {
  name: string;
  description: string;
  selector: unknown;
}

/** Host groups: label selectors that grants can be limited to. */
@Injectable()
export class HostGroupService {
  constructor(
    private readonly groups: HostGroupRepository,
    private readonly hosts: HostRepository,
    private readonly access: AccessService,
    private readonly audit: AuditService,
  ) {}

  async list(): Promise<HostGroupWithHosts[]> {
    const [groups, hosts] = await Promise.all([this.groups.list(), this.hosts.listActive()]);
    return groups.map((group) => withHosts(group, hosts));
  }

  async get(id: string): Promise<HostGroupWithHosts> {
    return withHosts(await this.find(id), await this.hosts.listActive());
  }

  async create(actor: Actor, input: HostGroupInput, origin: RequestOrigin): Promise<HostGroupWithHosts> {
    const group: NewHostGroup = {
      name: input.name,
      description: input.description,
      selector: parseLabels(input.selector, 'selector'),
    };
    if (await this.groups.findByName(group.name)) throw taken(group.name);
    const created = await this.groups.create(group);
    if (!created) throw taken(group.name);
    await this.audit.record({ actor }, origin, {
      action: 'host-group.create',
      outcome: 'success',
      target: created.id,
      details: { name: created.name, selector: created.selector },
    });
    return this.get(created.id);
  }

  /** A new selector moves hosts in or out of the group, and with them what its grants give. */
  async update(
    actor: Actor,
    id: string,
    input: Partial<HostGroupInput>,
    origin: RequestOrigin,
  ): Promise<HostGroupWithHosts> {
    const group = await this.find(id);
    const changes: Partial<NewHostGroup> = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.description !== undefined) changes.description = input.description;
    if (input.selector !== undefined) changes.selector = parseLabels(input.selector, 'selector');
    if (Object.keys(changes).length === 0) throw invalidArgument('give a new name, description or selector');
    if (changes.name !== undefined) {
      const other = await this.groups.findByName(changes.name);
      if (other && other.id !== id) throw taken(changes.name);
    }
    const updated = await this.groups.update(id, changes);
    if (!updated) throw taken(changes.name ?? group.name);
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'host-group.update',
      outcome: 'success',
      target: id,
      details: {
        name: updated.name,
        ...(changes.name !== undefined ? { previousName: group.name } : {}),
        ...(changes.selector ? { selector: updated.selector, previousSelector: group.selector } : {}),
      },
    });
    return this.get(id);
  }

  /** Deletes the group and every grant on it. */
  async delete(actor: Actor, id: string, origin: RequestOrigin): Promise<void> {
    const group = await this.find(id);
    await this.groups.delete(id);
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'host-group.delete',
      outcome: 'success',
      target: id,
      details: { name: group.name },
    });
  }

  private async find(id: string): Promise<HostGroupEntity> {
    const group = await this.groups.findById(id);
    if (!group) throw notFound(`no such host group: ${id}`);
    return group;
  }
}

function withHosts(group: HostGroupEntity, hosts: HostEntity[]): HostGroupWithHosts {
  return { group, hosts: hosts.filter((host) => selectorMatches(group.selector, host.labels)) };
}

const taken = (name: string) => conflict(`a host group named "${name}" already exists`);
