import { Injectable } from '@nestjs/common';
import { DataSource, type FindOptionsWhere, type Repository } from 'typeorm';
import { GrantEntity } from '../entities/grant.entity.js';
import { unlessTaken } from './unique-violation.js';

export type NewGrant = Pick<GrantEntity, 'roleId' | 'userId' | 'teamId' | 'hostGroupId' | 'createdBy'>;

export interface GrantFilter {
  userId?: string;
  teamId?: string;
  roleId?: string;
  hostGroupId?: string;
}

/** A grant that reaches a user, directly or through a team, with what access decisions need of it. */
export interface EffectiveGrantRow {
  permissions: string[];
  hostGroup: { id: string; name: string; selector: Record<string, string> } | null;
}

/** One way an enabled user holds a permission on every host. */
export interface GlobalHolding {
  grantId: string;
  roleId: string;
  userId: string;
  /** Set when the user holds it through this team's grant. */
  teamId: string | null;
}

@Injectable()
export class GrantRepository {
  private readonly grants: Repository<GrantEntity>;

  constructor(private readonly dataSource: DataSource) {
    this.grants = dataSource.getRepository(GrantEntity);
  }

  /** With role, subject and group loaded, newest first. */
  list(filter: GrantFilter): Promise<GrantEntity[]> {
    const where: FindOptionsWhere<GrantEntity> = {};
    if (filter.userId !== undefined) where.userId = filter.userId;
    if (filter.teamId !== undefined) where.teamId = filter.teamId;
    if (filter.roleId !== undefined) where.roleId = filter.roleId;
    if (filter.hostGroupId !== undefined) where.hostGroupId = filter.hostGroupId;
    return this.grants.find({
      where,
      relations: { role: true, user: true, team: true, hostGroup: true },
      order: { createdAt: 'DESC' },
    });
  }

  findById(id: string): Promise<GrantEntity | null> {
    return this.grants.findOne({ where: { id }, relations: { role: true, user: true, team: true, hostGroup: true } });
  }

  /** Null when the subject already has this role on this group (or globally). */
  async create(grant: NewGrant): Promise<GrantEntity | null> {
    const saved = await unlessTaken(this.grants.save(this.grants.create(grant)));
    return saved && this.findById(saved.id);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.grants.delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /** The grants of the user and of every team they are in: one query, on the access cache's miss path. */
  async effectiveFor(userId: string): Promise<EffectiveGrantRow[]> {
    const rows = await this.dataSource.query<
      Array<{
        permissions: string[];
        group_id: string | null;
        group_name: string | null;
        selector: Record<string, string> | null;
      }>
    >(
      `SELECT r.permissions, hg.id AS group_id, hg.name AS group_name, hg.selector
         FROM grants g
         JOIN roles r ON r.id = g.role_id
         LEFT JOIN host_groups hg ON hg.id = g.host_group_id
        WHERE g.user_id = $1
           OR g.team_id IN (SELECT team_id FROM team_members WHERE user_id = $1)`,
      [userId],
    );
    return rows.map((row) => ({
      permissions: row.permissions,
      hostGroup:
        row.group_id === null ? null : { id: row.group_id, name: row.group_name ?? '', selector: row.selector ?? {} },
    }));
  }

  /** Every way an enabled user holds `permission` on every host, through their own grants or their teams'. */
  async globalHoldings(permission: string): Promise<GlobalHolding[]> {
    const rows = await this.dataSource.query<
      Array<{ grant_id: string; role_id: string; user_id: string; team_id: string | null }>
    >(
      `SELECT g.id AS grant_id, g.role_id, u.id AS user_id, g.team_id
           FROM grants g
           JOIN roles r ON r.id = g.role_id
           LEFT JOIN team_members m ON m.team_id = g.team_id
           JOIN users u ON u.id = coalesce(g.user_id, m.user_id)
          WHERE g.host_group_id IS NULL AND $1 = ANY (r.permissions) AND u.disabled_at IS NULL`,
      [permission],
    );
    return rows.map((row) => ({
      grantId: row.grant_id,
      roleId: row.role_id,
      userId: row.user_id,
      teamId: row.team_id,
    }));
  }
}
