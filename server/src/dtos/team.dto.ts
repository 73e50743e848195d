import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsDescription, IsDisplayName } from './display-name.js';
import { UserRefDto } from './user.dto.js';

export class CreateTeamDto {
  @ApiProperty({ example: 'payments' })
  @IsDisplayName()
  name!: string;

  @ApiPropertyOptional({ maxLength: 512 })
  @IsDescription()
  description?: string;
}

export class UpdateTeamDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsDisplayName()
  name?: string;

  @ApiPropertyOptional({ maxLength: 512 })
  @IsDescription()
  description?: string;
}

export class TeamDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty() memberCount!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class TeamDetailDto extends TeamDto {
  @ApiProperty({ type: [UserRefDto] }) members!: UserRefDto[];
}
