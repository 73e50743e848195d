import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/** The hosts whose labels carry every key=value pair of the selector. */
@Entity('host_groups')
// Unique on lower(name): TypeORM cannot express it, so the migration owns it.
@Index('host_groups_name_key', { synchronize: false })
export class HostGroupEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'varchar', length: 512 })
  description!: string;

  @Column({ type: 'jsonb' })
  selector!: Record<string, string>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
