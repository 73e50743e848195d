import { ApiTokenEntity } from './api-token.entity.js';
import { AuditEventEntity } from './audit-event.entity.js';
import { GrantEntity } from './grant.entity.js';
import { HostGroupEntity } from './host-group.entity.js';
import { HostEntity } from './host.entity.js';
import { JoinTokenEntity } from './join-token.entity.js';
import { ProvisioningJobEntity } from './provisioning-job.entity.js';
import { ProvisioningTargetEntity } from './provisioning-target.entity.js';
import { RoleEntity } from './role.entity.js';
import { SessionEntity } from './session.entity.js';
import { TeamMemberEntity } from './team-member.entity.js';
import { TeamEntity } from './team.entity.js';
import { UserEntity } from './user.entity.js';

export const entities = [
  UserEntity,
  SessionEntity,
  ApiTokenEntity,
  HostEntity,
  JoinTokenEntity,
  AuditEventEntity,
  RoleEntity,
  TeamEntity,
  TeamMemberEntity,
  HostGroupEntity,
  GrantEntity,
  ProvisioningTargetEntity,
  ProvisioningJobEntity,
];
