import { ApiProperty } from '@nestjs/swagger';
import { IsBase64, IsObject, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export class HostUsageDto {
  @ApiProperty({ description: 'Memory available for new work without swapping' }) memoryAvailableBytes!: number;
  @ApiProperty({ description: "Size of the filesystem holding the agent's state" }) diskTotalBytes!: number;
  @ApiProperty({ description: 'What of it is free' }) diskFreeBytes!: number;
  @ApiProperty({ description: 'One-minute load average' }) load1!: number;
}

export class HostInventoryDto {
  @ApiProperty() hostname!: string;
  @ApiProperty() os!: string;
  @ApiProperty() kernel!: string;
  @ApiProperty() architecture!: string;
  @ApiProperty() cpus!: number;
  @ApiProperty() memoryBytes!: number;
  @ApiProperty({ enum: ['v1', 'v2'] }) cgroupVersion!: 'v1' | 'v2';
  @ApiProperty() agentVersion!: string;
  @ApiProperty({
    type: HostUsageDto,
    required: false,
    description: "What is in use, as of the agent's last heartbeat (every few seconds)",
  })
  usage?: HostUsageDto;
}

export class HostDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['online', 'offline'] }) status!: 'online' | 'offline';
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) lastSeenAt!: string | null;
  @ApiProperty({ type: HostInventoryDto, nullable: true }) inventory!: HostInventoryDto | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { env: 'prod' } })
  labels!: Record<string, string>;
}

export class SetHostLabelsDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { env: 'prod', 'example.com/team': 'payments' },
    description:
      "All of the host's labels (they replace the old ones), at most 64. Keys as in Kubernetes or Docker: a name of " +
      '1-63 letters, digits, "-", "_" or "." (starting and ending with a letter or digit), optionally after a DNS ' +
      'prefix and "/"; values empty or like a name.',
  })
  @IsObject()
  labels!: Record<string, string>;
}

export class EnrolDto {
  @ApiProperty()
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  joinToken!: string;

  @ApiProperty({ description: 'Ed25519 public key, SPKI DER, base64' })
  @IsString()
  @MaxLength(256)
  @IsBase64()
  publicKey!: string;

  @ApiProperty({ example: 'web-01' })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    message: 'name must be 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit',
  })
  name!: string;

  @ApiProperty({ description: 'Ed25519 signature, base64, over the enrolment payload' })
  @IsString()
  @MaxLength(128)
  @IsBase64()
  signature!: string;
}

export class EnrolledDto {
  @ApiProperty({ format: 'uuid' }) hostId!: string;
  @ApiProperty() name!: string;
}
