import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { isPermission } from '@skiff/protocol';
import { CurrentActor, Origin } from '../auth/request-context.js';
import { ApiTokenDto, CreateApiTokenDto, CreatedApiTokenDto } from '../dtos/api-token.dto.js';
import type { ApiTokenEntity } from '../entities/api-token.entity.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { ApiTokenService } from '../services/api-token.service.js';

@ApiTags('tokens')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller('tokens')
export class ApiTokenController {
  constructor(private readonly tokens: ApiTokenService) {}

  @Post()
  @ApiOperation({
    summary:
      'Create a personal API token, optionally limited to some of your permissions. The token is in this answer ' +
      'only; the server keeps its hash.',
  })
  @ApiCreatedResponse({ type: CreatedApiTokenDto })
  async create(
    @CurrentActor() actor: Actor,
    @Body() body: CreateApiTokenDto,
    @Origin() origin: RequestOrigin,
  ): Promise<CreatedApiTokenDto> {
    const created = await this.tokens.create(
      actor,
      body.name,
      body.expiresAt ?? null,
      body.permissions ?? null,
      origin,
    );
    return { ...toDto(created.entity), token: created.token };
  }

  @Get()
  @ApiOperation({ summary: "The caller's active API tokens (never the tokens themselves)." })
  @ApiOkResponse({ type: [ApiTokenDto] })
  async list(@CurrentActor() actor: Actor): Promise<ApiTokenDto[]> {
    return (await this.tokens.list(actor)).map(toDto);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke one of your API tokens.' })
  async revoke(
    @CurrentActor() actor: Actor,
    @Param('id', new ParseUUIDPipe({ errorHttpStatusCode: 404 })) id: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.tokens.revoke(actor, id, origin);
  }
}

function toDto(token: ApiTokenEntity): ApiTokenDto {
  return {
    id: token.id,
    name: token.name,
    prefix: token.prefix,
    createdAt: token.createdAt.toISOString(),
    expiresAt: token.expiresAt?.toISOString() ?? null,
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
    permissions: token.permissions?.filter(isPermission) ?? null,
  };
}
