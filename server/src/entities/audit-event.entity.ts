import { Check, Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';

export type AuditActorType = 'user' | 'token' | 'agent' | 'system' | 'anonymous';
export type AuditOutcome = 'success' | 'failure' | 'denied';

@Entity('audit_events')
@Unique('audit_events_hash_key', ['hash'])
@Index('audit_events_at_idx', ['at'])
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

  @Column({ name: 'actor_id', type: 'varchar', length: 64, nullable: true })
  actorId!: string | null;

  @Column({ name: 'actor_name', type: 'varchar', length: 255, nullable: true })
  actorName!: string | null;

  @Column({ type: 'varchar', length: 100 })
  action!: string;

  @Column({ type: 'varchar', length: 512, nullable: true })
  target!: string | null;

  @Column({ name: 'host_id', type: 'uuid', nullable: true })
  hostId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome!: AuditOutcome;

  @Column({ type: 'varchar', length: 64, nullable: true })
  address!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details!: Record<string, unknown>;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash!: string;

  @Column({ type: 'char', length: 64 })
  hash!: string;
}
