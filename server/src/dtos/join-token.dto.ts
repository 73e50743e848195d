import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { DEFAULT_JOIN_TOKEN_TTL_SECONDS, MAX_JOIN_TOKEN_TTL_SECONDS } from '../services/join-token.service.js';

export class CreateJoinTokenDto {
  @ApiProperty({
    required: false,
    default: DEFAULT_JOIN_TOKEN_TTL_SECONDS,
    minimum: 60,
    maximum: MAX_JOIN_TOKEN_TTL_SECONDS,
  })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(MAX_JOIN_TOKEN_TTL_SECONDS)
  ttlSeconds?: number;
}

export class JoinTokenDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ description: 'One-time token for `skiff-agent --join-token`; shown only this once.' })
  token!: string;

  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;

  @ApiProperty({ description: 'The command that installs nothing but enrols an agent that is already on the host.' })
  command!: string;
}
