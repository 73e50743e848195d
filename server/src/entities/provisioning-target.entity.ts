import {
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
} from 'typeorm';
import { HostEntity } from './host.entity.js';

/**
 * A host reached over SSH: its pinned host key (confirmed by an operator on first contact), the
 * login used, the credentials only when the operator asked to keep them (sealed with the server
 * key), and the enrolled host its agent became.
 */
@Entity('provisioning_targets')
@Unique('provisioning_targets_address_port_key', ['address', 'port'])
export class ProvisioningTargetEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 255 })
  address!: string;

  @Column({ type: 'integer' })
  port!: number;

  /** `SHA256:<base64>` of the host key, as OpenSSH prints it. */
  @Column({ name: 'host_key_fingerprint', type: 'varchar', length: 100 })
  hostKeyFingerprint!: string;

  @Column({ name: 'host_key_algorithm', type: 'varchar', length: 64 })
  hostKeyAlgorithm!: string;

  @Column({ type: 'varchar', length: 255, nullable: true })
  username!: string | null;

  @Column({ type: 'boolean', default: false })
  sudo!: boolean;

  /** The login's password, key and passphrase, sealed (SecretBoxService); null unless asked for. */
  @Column({ type: 'text', nullable: true })
  credentials!: string | null;

  @Column({ name: 'host_id', type: 'uuid', nullable: true })
  hostId!: string | null;

  @ManyToOne(() => HostEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'host_id', foreignKeyConstraintName: 'provisioning_targets_host_id_fkey' })
  host?: HostEntity;

  /** The bundle version installed by the last successful install or upgrade; null when not installed. */
  @Column({ name: 'agent_version', type: 'varchar', length: 100, nullable: true })
  agentVersion!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
