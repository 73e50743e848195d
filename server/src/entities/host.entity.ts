import type { HostInventory, HostStatus } from '@skiff/protocol';
import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';

@Entity('hosts')
@Unique('hosts_public_key_key', ['publicKey'])
@Check('hosts_status_check', `"status" IN ('online', 'offline')`)
export class HostEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 255 })
  name!: string;

  /** The agent's Ed25519 public key (SPKI DER, base64): the only credential the server keeps. */
  @Column({ name: 'public_key', type: 'text' })
  publicKey!: string;

  @Column({ type: 'varchar', length: 16, default: 'offline' })
  status!: HostStatus;

  @Column({ name: 'last_seen_at', type: 'timestamptz', nullable: true })
  lastSeenAt!: Date | null;

  @Column({ type: 'jsonb', nullable: true })
  inventory!: HostInventory | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  labels!: Record<string, string>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
