import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
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
import { CreateGrantDto, GrantDto, GrantQueryDto } from '../dtos/grant.dto.js';
import type { GrantEntity } from '../entities/grant.entity.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { GrantService } from '../services/grant.service.js';

const uuid = () => new ParseUUIDPipe({ errorHttpStatusCode: 404 });

@ApiTags('access')
@ApiCookieAuth()
@ApiBearerAuth()
@RequirePermission('user.manage')
@Controller('grants')
export class GrantController {
  constructor(private readonly grants: GrantService) {}

  @Get()
  @ApiOperation({
    summary: 'Grants, newest first, optionally only those of a user, team, role or host group (needs user.manage).',
  })
  @ApiOkResponse({ type: [GrantDto] })
  async list(@Query() query: GrantQueryDto): Promise<GrantDto[]> {
    return (await this.grants.list(query)).map(toGrantDto);
  }

  @Post()
  @ApiOperation({
    summary:
      'Give a role to a user or a team, on every host or (for host permissions) on a host group (needs user.manage).',
  })
  @ApiCreatedResponse({ type: GrantDto })
  async create(
    @CurrentActor() actor: Actor,
    @Body() body: CreateGrantDto,
    @Origin() origin: RequestOrigin,
  ): Promise<GrantDto> {
    return toGrantDto(await this.grants.create(actor, body, origin));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Take a grant back; the last enabled user with user.manage keeps theirs (409) (needs user.manage).',
  })
  @ApiNoContentResponse()
  async delete(
    @CurrentActor() actor: Actor,
    @Param('id', uuid()) id: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.grants.delete(actor, id, origin);
  }
}

function toGrantDto(grant: GrantEntity): GrantDto {
  return {
    id: grant.id,
    role: { id: grant.roleId, name: grant.role?.name ?? '' },
    user: grant.userId ? { id: grant.userId, username: grant.user?.username ?? '' } : null,
    team: grant.teamId ? { id: grant.teamId, name: grant.team?.name ?? '' } : null,
    hostGroup: grant.hostGroupId ? { id: grant.hostGroupId, name: grant.hostGroup?.name ?? '' } : null,
    createdAt: grant.createdAt.toISOString(),
    createdBy: grant.createdBy,
  };
}
