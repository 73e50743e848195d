import { ApiProperty } from '@nestjs/swagger';
import { PERMISSIONS, type Permission } from '@skiff/protocol';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDate,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';

export class CreateApiTokenDto {
  @ApiProperty({ example: 'ci deploys', description: 'What the token is for, 1-100 characters.' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @Matches(/^[^\p{Cc}]+$/u, { message: 'name must not contain control characters' })
  name!: string;

  @ApiProperty({
    required: false,
    format: 'date-time',
    description: 'When the token stops working; never when omitted.',
  })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'expiresAt must be an ISO 8601 date-time' })
  expiresAt?: Date;

  @ApiProperty({
    required: false,
    enum: PERMISSIONS,
    isArray: true,
    description:
      'Limit the token to these permissions, each held by you on every host or on some host group; ' +
      'it never exceeds what you hold. Omitted: all of your permissions.',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1, { message: 'permissions must name at least one permission; omit it for all of yours' })
  @ArrayMaxSize(PERMISSIONS.length * 2)
  @IsIn(PERMISSIONS, { each: true, message: 'each permission must be one of GET /api/permissions' })
  permissions?: Permission[];
}

export class ApiTokenDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  name!: string;

  @ApiProperty({ description: 'The first characters of the token, to recognise it.' })
  prefix!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  expiresAt!: string | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  lastUsedAt!: string | null;

  @ApiProperty({
    enum: PERMISSIONS,
    isArray: true,
    nullable: true,
    description: 'What the token is limited to; null: everything its owner may do.',
  })
  permissions!: Permission[] | null;
}

export class CreatedApiTokenDto extends ApiTokenDto {
  @ApiProperty({
    description: 'The token itself. It is shown only this once; use it as "Authorization: Bearer <token>".',
  })
  token!: string;
}
