import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional } from 'class-validator';
import { IsNewPassword, IsUsername, MIN_PASSWORD_LENGTH } from './display-name.js';

export class CreateUserDto {
  @ApiProperty({
    example: 'ann',
    description: '1-64 letters, digits, ".", "_", "@" or "-"; unique in any letter case.',
  })
  @IsUsername()
  username!: string;

  @ApiProperty({ format: 'password', minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 })
  @IsNewPassword()
  password!: string;
}

export class UpdateUserDto {
  @ApiPropertyOptional({
    description: 'true disables the account: it cannot sign in and its sessions and API tokens stop working.',
  })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

export class ResetPasswordDto {
  @ApiProperty({ format: 'password', minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 })
  @IsNewPassword()
  password!: string;
}

export class UserAccountDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() username!: string;
  @ApiProperty() disabled!: boolean;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) disabledAt!: string | null;
  @ApiProperty({ description: 'Whether the user signs in with a TOTP code too.' }) totpEnabled!: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class UserRefDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() username!: string;
}
