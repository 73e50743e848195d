import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional } from 'class-validator';
import { IsDescription, IsDisplayName } from './display-name.js';
import { IdNameDto } from './id-name.dto.js';

const SELECTOR = {
  type: 'object',
  additionalProperties: { type: 'string' },
  example: { env: 'prod', 'example.com/team': 'payments' },
  description:
    'Label key → value; a host is in the group when its labels carry every pair (an empty selector: every host).',
} as const;

export class CreateHostGroupDto {
  @ApiProperty({ example: 'production' })
  @IsDisplayName()
  name!: string;

  @ApiPropertyOptional({ maxLength: 512 })
  @IsDescription()
  description?: string;

  @ApiProperty(SELECTOR)
  @IsObject()
  selector!: Record<string, string>;
}

export class UpdateHostGroupDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsDisplayName()
  name?: string;

  @ApiPropertyOptional({ maxLength: 512 })
  @IsDescription()
  description?: string;

  @ApiPropertyOptional(SELECTOR)
  @IsOptional()
  @IsObject()
  selector?: Record<string, string>;
}

export class HostGroupDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty(SELECTOR) selector!: Record<string, string>;
  @ApiProperty({ type: [IdNameDto], description: 'The active hosts in the group now.' }) hosts!: IdNameDto[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}
