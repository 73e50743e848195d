import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsArray, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';

const CONTAINER_STATES = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'] as const;

export class FleetContainerQueryDto {
  @ApiPropertyOptional({ description: 'A host id or name' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  host?: string;

  @ApiPropertyOptional({ description: 'Part of a container name, or the start of its id' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  name?: string;

  @ApiPropertyOptional({ description: 'Part of the image name' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  image?: string;

  @ApiPropertyOptional({ description: '`key` or `key=value`; repeat for several', type: [String] })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (Array.isArray(value) ? (value as unknown[]) : [value]))
  @IsArray()
  @IsString({ each: true })
  @MaxLength(512, { each: true })
  label?: string[];

  @ApiPropertyOptional({ enum: CONTAINER_STATES })
  @IsOptional()
  @IsIn(CONTAINER_STATES)
  state?: string;
}

export class FleetHostCountDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['online', 'offline'] }) status!: string;
  @ApiProperty({ description: 'Containers by state, and `total`', example: { running: 2, exited: 1, total: 3 } })
  counts!: Record<string, number>;
  @ApiPropertyOptional({ description: "Why the host's containers are missing from the list" }) error?: string;
}

export class FleetContainersDto {
  @ApiProperty({
    description: "Docker's container summaries (GET /containers/json) with hostId, hostName and hostStatus added",
    type: 'array',
    items: { type: 'object' },
  })
  containers!: Record<string, unknown>[];

  @ApiProperty({ type: [FleetHostCountDto] })
  hosts!: FleetHostCountDto[];
}
