import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PERMISSIONS, type Permission } from '@skiff/protocol';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional } from 'class-validator';
import { IsDescription, IsDisplayName } from './display-name.js';

export class CreateRoleDto {
  @ApiProperty({ example: 'log reader' })
  @IsDisplayName()
  name!: string;

  @ApiPropertyOptional({ maxLength: 512 })
  @IsDescription()
  description?: string;

  @ApiProperty({ enum: PERMISSIONS, isArray: true, example: ['host.view', 'container.view', 'container.logs'] })
  @IsArray()
  @ArrayMinSize(1, { message: 'a role needs at least one permission' })
  @ArrayMaxSize(PERMISSIONS.length * 2)
  @IsIn(PERMISSIONS, { each: true, message: 'each permission must be one of GET /api/permissions' })
  permissions!: Permission[];
}

export class UpdateRoleDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsDisplayName()
  name?: string;

  @ApiPropertyOptional({ maxLength: 512 })
  @IsDescription()
  description?: string;

  @ApiPropertyOptional({ enum: PERMISSIONS, isArray: true })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1, { message: 'a role needs at least one permission' })
  @ArrayMaxSize(PERMISSIONS.length * 2)
  @IsIn(PERMISSIONS, { each: true, message: 'each permission must be one of GET /api/permissions' })
  permissions?: Permission[];
}

export class RoleDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ description: 'Built-in roles (admin, operator, viewer) cannot be changed or deleted.' })
  builtIn!: boolean;
  @ApiProperty({ enum: PERMISSIONS, isArray: true }) permissions!: Permission[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}
