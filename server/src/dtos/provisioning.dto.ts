import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { MAX_JOIN_TOKEN_TTL_SECONDS } from '../services/join-token.service.js';

/** A host name, an IPv4 address or an IPv6 address (no leading '-', which ssh tools would read as an option). */
const ADDRESS = /^(?!-)[A-Za-z0-9.:-]{1,253}$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const USERNAME = /^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$/;
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,253}$/;
export const MAX_INSTALL_TARGETS = 100;

export class SshAddressDto {
  @ApiProperty({ description: 'Host name or IP address of the SSH server.', example: '10.0.0.5' })
  @IsString()
  @Matches(ADDRESS, { message: 'address must be a host name or an IP address' })
  address!: string;

  @ApiPropertyOptional({ default: 22, minimum: 1, maximum: 65535 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65535)
  port?: number;
}

export class ProbeDto extends SshAddressDto {}

export class ProbeResultDto {
  @ApiProperty() address!: string;
  @ApiProperty() port!: number;
  @ApiProperty({ description: 'SHA256 fingerprint of the host key, as `ssh-keygen -l` prints it.' })
  fingerprint!: string;
  @ApiProperty({ example: 'ssh-ed25519' }) algorithm!: string;
  @ApiProperty({
    enum: ['new', 'pinned', 'changed'],
    description: 'new: confirm it; pinned: matches the pinned key; changed: differs from the pinned key (refused).',
  })
  state!: 'new' | 'pinned' | 'changed';
  @ApiProperty({ type: String, nullable: true }) pinnedFingerprint!: string | null;
}

export class SshCredentialsDto {
  @ApiProperty({ example: 'root' })
  @IsString()
  @Matches(USERNAME, { message: 'username must be a user name (letters, digits, . _ @ -)' })
  username!: string;

  @ApiPropertyOptional({ description: 'Login password (and sudo password unless sudoPassword is given).' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  password?: string;

  @ApiPropertyOptional({ description: 'Private key in OpenSSH or PEM format.' })
  @IsOptional()
  @IsString()
  @MaxLength(16384)
  privateKey?: string;

  @ApiPropertyOptional({ description: "The private key's passphrase." })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  passphrase?: string;

  @ApiPropertyOptional({ default: false, description: 'Run the install through sudo (for a user other than root).' })
  @IsOptional()
  @IsBoolean()
  sudo?: boolean;

  @ApiPropertyOptional({ description: "sudo's password, when it is not the login password." })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  sudoPassword?: string;
}

export class InstallTargetDto extends SshAddressDto {
  @ApiPropertyOptional({
    description: 'The host key fingerprint you confirmed (from probe); needed until the key is pinned.',
    example: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
  })
  @IsOptional()
  @Matches(FINGERPRINT, { message: 'hostKeyFingerprint must look like SHA256:<43 base64 characters>' })
  hostKeyFingerprint?: string;

  @ApiPropertyOptional({ description: "The host's name in Skiff (default: its address)." })
  @IsOptional()
  @Matches(HOST_NAME, { message: "name may hold letters, digits, '.', '_', ':' and '-' only" })
  name?: string;
}

export class InstallDto {
  @ApiProperty({ type: [InstallTargetDto], description: 'The hosts to install on, in parallel.' })
  @ValidateNested({ each: true })
  @Type(() => InstallTargetDto)
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_INSTALL_TARGETS)
  targets!: InstallTargetDto[];

  @ApiProperty({ type: SshCredentialsDto, description: 'The SSH login, the same for every host of the request.' })
  @ValidateNested()
  @Type(() => SshCredentialsDto)
  credentials!: SshCredentialsDto;

  @ApiPropertyOptional({
    default: false,
    description: 'Keep the credentials, sealed with the server key, for later upgrades and uninstalls.',
  })
  @IsOptional()
  @IsBoolean()
  storeCredentials?: boolean;

  @ApiPropertyOptional({
    description: "The server's address as the hosts reach it (default: the address this request was sent to).",
    example: 'https://skiff.example.com',
  })
  @IsOptional()
  @Matches(/^https?:\/\/[A-Za-z0-9.\-:[\]]+$/, { message: 'serverUrl must be http(s)://host[:port] with no path' })
  serverUrl?: string;
}

export class UpgradeDto {
  @ApiPropertyOptional({ type: SshCredentialsDto, description: 'The SSH login; default: the kept credentials.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => SshCredentialsDto)
  credentials?: SshCredentialsDto;
}

export class UninstallDto extends UpgradeDto {
  @ApiPropertyOptional({ default: false, description: 'Keep /var/lib/skiff (images, volumes, container state).' })
  @IsOptional()
  @IsBoolean()
  keepData?: boolean;
}

export class JobQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only the jobs of one request.' })
  @IsOptional()
  @IsUUID()
  batchId?: string;
}

export class ManualInstallDto {
  @ApiPropertyOptional({ default: 3600, minimum: 60, maximum: MAX_JOIN_TOKEN_TTL_SECONDS })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(MAX_JOIN_TOKEN_TTL_SECONDS)
  ttlSeconds?: number;
}

export class ManualInstallCommandDto {
  @ApiProperty({ description: 'Run on the host as root: downloads, verifies and installs the agent, then enrols it.' })
  command!: string;
  @ApiProperty({ description: 'The one-time join token in the command; shown only this once.' }) token!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty() scriptUrl!: string;
}

export class ProvisioningStepDto {
  @ApiProperty({ example: 'preflight' }) name!: string;
  @ApiProperty() title!: string;
  @ApiProperty({ enum: ['pending', 'running', 'succeeded', 'failed', 'skipped'] }) status!: string;
  @ApiProperty({ description: 'What the step printed (its tail).' }) output!: string;
  @ApiPropertyOptional({ description: 'Why it failed and what to do.' }) error?: string;
  @ApiPropertyOptional({ format: 'date-time' }) startedAt?: string;
  @ApiPropertyOptional({ format: 'date-time' }) finishedAt?: string;
}

export class ProvisioningJobDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) batchId!: string;
  @ApiProperty({ enum: ['install', 'upgrade', 'uninstall'] }) kind!: string;
  @ApiProperty() address!: string;
  @ApiProperty() port!: number;
  @ApiProperty({ enum: ['running', 'succeeded', 'failed'] }) status!: string;
  @ApiProperty({ minimum: 0, maximum: 100 }) progress!: number;
  @ApiProperty({ type: [ProvisioningStepDto] }) steps!: ProvisioningStepDto[];
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'uuid' }) hostId!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'uuid' }) targetId!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) finishedAt!: string | null;
}

export class ProvisioningTargetDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() address!: string;
  @ApiProperty() port!: number;
  @ApiProperty({ description: 'The pinned host key.' }) hostKeyFingerprint!: string;
  @ApiProperty() hostKeyAlgorithm!: string;
  @ApiProperty({ type: String, nullable: true }) username!: string | null;
  @ApiProperty() sudo!: boolean;
  @ApiProperty() hasStoredCredentials!: boolean;
  @ApiProperty({ type: String, nullable: true, format: 'uuid' }) hostId!: string | null;
  @ApiProperty({ type: String, nullable: true }) agentVersion!: string | null;
}

export class AgentBundleDto {
  @ApiProperty({ example: '0.1.0+3f2a1b4c5d6e' }) version!: string;
  @ApiProperty({
    enum: ['x64'],
    description: 'Only x64: skiff-shim is compiled by the server for its own architecture.',
  })
  arch!: string;
  @ApiProperty() sha256!: string;
  @ApiProperty() size!: number;
  @ApiProperty() nodeVersion!: string;
}

export const BUNDLE_ARCHES = ['x64'] as const;
export class BundleQueryDto {
  @ApiPropertyOptional({ enum: BUNDLE_ARCHES, default: 'x64' })
  @IsOptional()
  @IsIn(BUNDLE_ARCHES)
  arch?: (typeof BUNDLE_ARCHES)[number];
}
