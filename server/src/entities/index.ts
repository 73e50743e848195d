import { ApiTokenEntity } from './api-token.entity.js';
import { AuditEventEntity } from './audit-event.entity.js';
import { HostEntity } from './host.entity.js';
import { JoinTokenEntity } from './join-token.entity.js';
import { SessionEntity } from './session.entity.js';
import { UserEntity } from './user.entity.js';

export const entities = [UserEntity, SessionEntity, ApiTokenEntity, HostEntity, JoinTokenEntity, AuditEventEntity];
