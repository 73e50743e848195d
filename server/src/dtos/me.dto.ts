import { ApiProperty } from '@nestjs/swagger';
import { PERMISSIONS, type Permission } from '@skiff/protocol';
import { IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IsNewPassword, MIN_PASSWORD_LENGTH } from './display-name.js';
import { IdNameDto } from './id-name.dto.js';

export class ChangePasswordDto {
  @ApiProperty({ format: 'password' })
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  currentPassword!: string;

  @ApiProperty({ format: 'password', minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 })
  @IsNewPassword('newPassword')
  newPassword!: string;
}

export class TotpCodeDto {
  @ApiProperty({ example: '123456', description: 'The 6-digit code the authenticator app shows now.' })
  @IsString()
  @Matches(/^\d{6}$/, { message: 'code must be the 6 digits the authenticator app shows' })
  code!: string;
}

export class TotpEnrolmentDto {
  @ApiProperty({ description: 'The new secret in base32, to type into an authenticator app. Shown only this once.' })
  secret!: string;

  @ApiProperty({
    example: 'otpauth://totp/Skiff:ann?secret=…&issuer=Skiff&algorithm=SHA1&digits=6&period=30',
    description: 'The same secret as an otpauth:// URI, for a QR code.',
  })
  uri!: string;
}

export class GroupPermissionsDto {
  @ApiProperty({ type: IdNameDto }) group!: IdNameDto;
  @ApiProperty({ enum: PERMISSIONS, isArray: true }) permissions!: Permission[];
}

export class MyPermissionsDto {
  @ApiProperty({ enum: PERMISSIONS, isArray: true, description: 'Held on every host.' })
  global!: Permission[];

  @ApiProperty({ type: [GroupPermissionsDto], description: 'Held on the hosts of these groups.' })
  hostGroups!: GroupPermissionsDto[];

  @ApiProperty({
    description: 'Every host the caller may see, by id, with everything the caller may do on it.',
    type: 'object',
    additionalProperties: { type: 'array', items: { type: 'string', enum: [...PERMISSIONS] } },
    example: { '3f2a…': ['host.view', 'container.view'] },
  })
  hosts!: Record<string, Permission[]>;
}
