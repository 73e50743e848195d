import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsUUID } from 'class-validator';
import { IdNameDto } from './id-name.dto.js';
import { UserRefDto } from './user.dto.js';

export class GrantQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: "Only this user's own grants (not their teams')." })
  @IsOptional()
  @IsUUID()
  userId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  teamId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  roleId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  hostGroupId?: string;
}

export class CreateGrantDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  roleId!: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Exactly one of userId and teamId.' })
  @IsOptional()
  @IsUUID()
  userId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Exactly one of userId and teamId.' })
  @IsOptional()
  @IsUUID()
  teamId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Limit the grant to a host group; omit for every host.' })
  @IsOptional()
  @IsUUID()
  hostGroupId?: string;
}

export class GrantDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: IdNameDto }) role!: IdNameDto;
  @ApiProperty({ type: UserRefDto, nullable: true }) user!: UserRefDto | null;
  @ApiProperty({ type: IdNameDto, nullable: true }) team!: IdNameDto | null;
  @ApiProperty({ type: IdNameDto, nullable: true, description: 'null: on every host.' }) hostGroup!: IdNameDto | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'Who made the grant.' })
  createdBy!: string | null;
}
