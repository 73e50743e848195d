import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/** A named set of permissions. The built-in ones (admin, operator, viewer) are read-only. */
@Entity('roles')
// Unique on lower(name): TypeORM cannot express it, so the migration owns it.
@Index('roles_name_key', { synchronize: false })
export class RoleEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'varchar', length: 512 })
  description!: string;

  @Column({ name: 'built_in', type: 'boolean', default: false })
  builtIn!: boolean;

  /** Permission names; one the code no longer knows is ignored when access is worked out. */
  @Column({ type: 'text', array: true })
  permissions!: string[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
