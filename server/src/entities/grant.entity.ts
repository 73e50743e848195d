import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { HostGroupEntity } from './host-group.entity.js';
import { RoleEntity } from './role.entity.js';
import { TeamEntity } from './team.entity.js';
import { UserEntity } from './user.entity.js';

/** Gives a role to a user or a team, on every host (no host group) or on the hosts of a group. */
@Entity('grants')
@Check('grants_subject_check', `("user_id" IS NULL) <> ("team_id" IS NULL)`)
// Unique per subject, role and group with NULLS NOT DISTINCT, which TypeORM cannot express: the migration owns it.
@Index('grants_subject_role_group_key', { synchronize: false })
@Index('grants_team_id_idx', ['teamId'])
@Index('grants_role_id_idx', ['roleId'])
export class GrantEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'role_id', type: 'uuid' })
  roleId!: string;

  @ManyToOne(() => RoleEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'role_id', foreignKeyConstraintName: 'grants_role_id_fkey' })
  role?: RoleEntity;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'grants_user_id_fkey' })
  user?: UserEntity | null;

  @Column({ name: 'team_id', type: 'uuid', nullable: true })
  teamId!: string | null;

  @ManyToOne(() => TeamEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'team_id', foreignKeyConstraintName: 'grants_team_id_fkey' })
  team?: TeamEntity | null;

  @Column({ name: 'host_group_id', type: 'uuid', nullable: true })
  hostGroupId!: string | null;

  @ManyToOne(() => HostGroupEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'host_group_id', foreignKeyConstraintName: 'grants_host_group_id_fkey' })
  hostGroup?: HostGroupEntity | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy!: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'created_by', foreignKeyConstraintName: 'grants_created_by_fkey' })
  creator?: UserEntity | null;
}
