import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentActor, Origin } from '../auth/request-context.js';
import { RequirePermission } from '../auth/require-permission.decorator.js';
import { CreateUserDto, ResetPasswordDto, UpdateUserDto, UserAccountDto } from '../dtos/user.dto.js';
import type { UserEntity } from '../entities/user.entity.js';
import { invalidArgument } from '../errors/domain-error.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { UserService } from '../services/user.service.js';

const userId = () => new ParseUUIDPipe({ errorHttpStatusCode: 404 });

@ApiTags('users')
@ApiCookieAuth()
@ApiBearerAuth()
@RequirePermission('user.manage')
@Controller('users')
export class UserController {
  constructor(private readonly users: UserService) {}

  @Get()
  @ApiOperation({ summary: 'Every user (needs user.manage).' })
  @ApiOkResponse({ type: [UserAccountDto] })
  async list(): Promise<UserAccountDto[]> {
    return (await this.users.list()).map(toUserDto);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One user (needs user.manage).' })
  @ApiOkResponse({ type: UserAccountDto })
  async get(@Param('id', userId()) id: string): Promise<UserAccountDto> {
    return toUserDto(await this.users.get(id));
  }

  @Post()
  @ApiOperation({ summary: 'Create a user; they hold nothing until granted a role (needs user.manage).' })
  @ApiCreatedResponse({ type: UserAccountDto })
  async create(
    @CurrentActor() actor: Actor,
    @Body() body: CreateUserDto,
    @Origin() origin: RequestOrigin,
  ): Promise<UserAccountDto> {
    return toUserDto(await this.users.create(actor, body.username, body.password, origin));
  }

  @Patch(':id')
  @ApiOperation({
    summary:
      'Disable or enable a user: a disabled user cannot sign in, and their sessions and API tokens stop working ' +
      'at once. Nobody can disable themself, nor the last enabled user with user.manage (needs user.manage).',
  })
  @ApiOkResponse({ type: UserAccountDto })
  async update(
    @CurrentActor() actor: Actor,
    @Param('id', userId()) id: string,
    @Body() body: UpdateUserDto,
    @Origin() origin: RequestOrigin,
  ): Promise<UserAccountDto> {
    if (body.disabled === undefined) throw invalidArgument('give "disabled": true or false');
    return toUserDto(await this.users.setDisabled(actor, id, body.disabled, origin));
  }

  @Post(':id/password')
  @HttpCode(204)
  @ApiOperation({ summary: "Set a user's password; their sessions end (needs user.manage)." })
  @ApiNoContentResponse()
  async resetPassword(
    @CurrentActor() actor: Actor,
    @Param('id', userId()) id: string,
    @Body() body: ResetPasswordDto,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.users.resetPassword(actor, id, body.password, origin);
  }

  @Delete(':id/totp')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Turn two-factor sign-in off for a user who lost their authenticator (needs user.manage).',
  })
  @ApiNoContentResponse()
  async clearTotp(
    @CurrentActor() actor: Actor,
    @Param('id', userId()) id: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.users.clearTotp(actor, id, origin);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary:
      'Delete a user with their sessions, tokens, memberships and grants. Nobody can delete themself, nor the ' +
      'last enabled user with user.manage (needs user.manage).',
  })
  @ApiNoContentResponse()
  async delete(
    @CurrentActor() actor: Actor,
    @Param('id', userId()) id: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.users.delete(actor, id, origin);
  }
}

export function toUserDto(user: UserEntity): UserAccountDto {
  return {
    id: user.id,
    username: user.username,
    disabled: user.disabledAt !== null,
    disabledAt: user.disabledAt?.toISOString() ?? null,
    totpEnabled: user.totpEnabledAt !== null,
    createdAt: user.createdAt.toISOString(),
  };
}
