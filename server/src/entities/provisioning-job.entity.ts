import type { ProvisioningJobKind, ProvisioningJobStatus, ProvisioningStep } from '@skiff/protocol';
import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { HostEntity } from './host.entity.js';
import { ProvisioningTargetEntity } from './provisioning-target.entity.js';
import { UserEntity } from './user.entity.js';

export type { ProvisioningJobKind, ProvisioningJobStatus };
export type ProvisioningStepRecord = ProvisioningStep;

/** One install, upgrade or uninstall on one host, with its steps as they ran. */
@Entity('provisioning_jobs')
@Index('provisioning_jobs_batch_id_idx', ['batchId'])
@Check('provisioning_jobs_kind_check', `"kind" IN ('install', 'upgrade', 'uninstall')`)
@Check('provisioning_jobs_status_check', `"status" IN ('running', 'succeeded', 'failed')`)
export class ProvisioningJobEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** Jobs started by one request (many hosts at once) share it. */
  @Column({ name: 'batch_id', type: 'uuid' })
  batchId!: string;

  @Column({ type: 'varchar', length: 16 })
  kind!: ProvisioningJobKind;

  @Column({ type: 'varchar', length: 255 })
  address!: string;

  @Column({ type: 'integer' })
  port!: number;

  @Column({ name: 'target_id', type: 'uuid', nullable: true })
  targetId!: string | null;

  @ManyToOne(() => ProvisioningTargetEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'target_id', foreignKeyConstraintName: 'provisioning_jobs_target_id_fkey' })
  target?: ProvisioningTargetEntity;

  @Column({ type: 'varchar', length: 16 })
  status!: ProvisioningJobStatus;

  @Column({ type: 'jsonb' })
  steps!: ProvisioningStepRecord[];

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ name: 'host_id', type: 'uuid', nullable: true })
  hostId!: string | null;

  @ManyToOne(() => HostEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'host_id', foreignKeyConstraintName: 'provisioning_jobs_host_id_fkey' })
  host?: HostEntity;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy!: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'created_by', foreignKeyConstraintName: 'provisioning_jobs_created_by_fkey' })
  creator?: UserEntity;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;
}
