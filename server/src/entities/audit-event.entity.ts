import { Check, Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';

export type AuditActorType = 'user' | 'token' | 'agent' | 'system' | 'anonymous';
export type AuditOutcome = 'success' | 'failure' | 'denied';

@Entity('audit_events')
@Unique('audit_events_hash_key', ['hash'])
@Index('audit_events_at_idx', ['at'])
// Search filters, each newest first within its value.
@Index('audit_events_action_idx', ['action', 'id'])
@Index('audit_events_actor_id_idx', ['actorId', 'id'])
@Index('audit_events_actor_name_idx', ['actorName', 'id'])
@Index('audit_events_host_id_idx', ['hostId', 'id'])
@Index('audit_events_user_id_idx', ['userId', 'id'])
@Check('audit_events_actor_type_check', `"actor_type" IN ('user', 'token', 'agent', 'system', 'anonymous')`)
@Check('audit_events_outcome_check', `"outcome" IN ('success', 'failure', 'denied')`)
export class AuditEventEntity {
  /** bigint comes back from pg as a string; it stays one so no id is ever rounded. */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at!: Date;

  @Column({ name: 'actor_type', type: 'varchar', length: 16 })
  actorType!: AuditActorType;

  /** The user, API token or host that acted. */
  @Column({ name: 'actor_id', type: 'varchar', length: 64, nullable: true })
  actorId!: string | null;

  @Column({ name: 'actor_name', type: 'varchar', length: 255, nullable: true })
  actorName!: string | null;

  /** The user behind a session or an API token. */
  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;

  /** Byte order ("C"), so that a prefix search such as `container.%` can use the index. */
  @Column({ type: 'varchar', length: 100, collation: 'C' })
  action!: string;

  @Column({ type: 'varchar', length: 512, nullable: true })
  target!: string | null;

  @Column({ name: 'host_id', type: 'uuid', nullable: true })
  hostId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome!: AuditOutcome;

  /** HTTP-like status of the request or call. */
  @Column({ type: 'integer', nullable: true })
  status!: number | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ name: 'duration_ms', type: 'integer', nullable: true })
  durationMs!: number | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  address!: string | null;

  /** The caller's User-Agent. */
  @Column({ type: 'varchar', length: 512, nullable: true })
  client!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details!: Record<string, unknown>;

  /** Which canonical form the hash covers: 1 for rows written before `client` and the rest existed. */
  @Column({ name: 'hash_version', type: 'smallint', default: 2 })
  hashVersion!: number;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash!: string;

  @Column({ type: 'char', length: 64 })
  hash!: string;
}
