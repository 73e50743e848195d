import { Body, Controller, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { CurrentActor, Origin } from '../auth/request-context.js';
import { RequirePermission } from '../auth/require-permission.decorator.js';
import { CreateJoinTokenDto, JoinTokenDto } from '../dtos/join-token.dto.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { JoinTokenService } from '../services/join-token.service.js';

@ApiTags('hosts')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller('join-tokens')
export class JoinTokenController {
  constructor(private readonly joinTokens: JoinTokenService) {}

  @Post()
  @RequirePermission('host.manage')
  @ApiOperation({
    summary:
      'Create a one-time join token with which an agent enrols its host (default: valid 1 hour). Needs host.manage ' +
      'on every host.',
  })
  @ApiCreatedResponse({ type: JoinTokenDto })
  async create(
    @CurrentActor() actor: Actor,
    @Body() body: CreateJoinTokenDto,
    @Origin() origin: RequestOrigin,
    @Req() request: Request,
  ): Promise<JoinTokenDto> {
    const created = await this.joinTokens.create(actor, body.ttlSeconds, origin);
    const server = `${request.protocol}://${request.get('host') ?? 'localhost'}`;
    return {
      id: created.id,
      token: created.token,
      expiresAt: created.expiresAt.toISOString(),
      command: `skiff-agent --server ${server} --join-token ${created.token}`,
    };
  }
}
