import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

export class LoginDto {
  @ApiProperty({ example: 'admin' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  username!: string;

  @ApiProperty({ format: 'password' })
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password!: string;

  @ApiProperty({
    required: false,
    example: '123456',
    description:
      'The current code of the authenticator app, for an account with two-factor sign-in. Without it such an ' +
      'account is answered 401 with `totpRequired: true`.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(16)
  totp?: string;
}

export class UserDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  username!: string;
}

export class SessionDto {
  @ApiProperty({ type: UserDto })
  user!: UserDto;

  @ApiProperty({ description: 'Send it back as the X-CSRF-Token header on POST, PUT, PATCH and DELETE.' })
  csrfToken!: string;
}

export class MeDto {
  @ApiProperty({ type: UserDto })
  user!: UserDto;

  @ApiProperty({ enum: ['user', 'token'], description: 'How the caller authenticated.' })
  via!: 'user' | 'token';

  @ApiProperty({ required: false, description: 'Set when the caller uses a browser session.' })
  csrfToken?: string;

  @ApiProperty({ description: 'Whether signing in to this account needs a TOTP code.' })
  totpEnabled!: boolean;
}
