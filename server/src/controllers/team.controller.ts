import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Put } from '@nestjs/common';
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
import { CreateTeamDto, TeamDetailDto, TeamDto, UpdateTeamDto } from '../dtos/team.dto.js';
import type { TeamEntity } from '../entities/team.entity.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { TeamService, type TeamWithMembers } from '../services/team.service.js';

const uuid = () => new ParseUUIDPipe({ errorHttpStatusCode: 404 });

@ApiTags('teams')
@ApiCookieAuth()
@ApiBearerAuth()
@RequirePermission('user.manage')
@Controller('teams')
export class TeamController {
  constructor(private readonly teams: TeamService) {}

  @Get()
  @ApiOperation({ summary: 'Every team with its number of members (needs user.manage).' })
  @ApiOkResponse({ type: [TeamDto] })
  async list(): Promise<TeamDto[]> {
    return (await this.teams.list()).map(({ team, memberCount }) => toTeamDto(team, memberCount));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One team with its members (needs user.manage).' })
  @ApiOkResponse({ type: TeamDetailDto })
  async get(@Param('id', uuid()) id: string): Promise<TeamDetailDto> {
    return toDetailDto(await this.teams.get(id));
  }

  @Post()
  @ApiOperation({ summary: 'Create a team; grants to it reach every member (needs user.manage).' })
  @ApiCreatedResponse({ type: TeamDetailDto })
  async create(
    @CurrentActor() actor: Actor,
    @Body() body: CreateTeamDto,
    @Origin() origin: RequestOrigin,
  ): Promise<TeamDetailDto> {
    return toDetailDto(
      await this.teams.create(actor, { name: body.name, description: body.description ?? '' }, origin),
    );
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Rename a team or change its description (needs user.manage).' })
  @ApiOkResponse({ type: TeamDetailDto })
  async update(
    @CurrentActor() actor: Actor,
    @Param('id', uuid()) id: string,
    @Body() body: UpdateTeamDto,
    @Origin() origin: RequestOrigin,
  ): Promise<TeamDetailDto> {
    return toDetailDto(await this.teams.update(actor, id, body, origin));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a team and its grants; its members stay (needs user.manage).' })
  @ApiNoContentResponse()
  async delete(
    @CurrentActor() actor: Actor,
    @Param('id', uuid()) id: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.teams.delete(actor, id, origin);
  }

  @Put(':id/members/:userId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Add a user to a team; adding a member again changes nothing (needs user.manage).' })
  @ApiNoContentResponse()
  async addMember(
    @CurrentActor() actor: Actor,
    @Param('id', uuid()) id: string,
    @Param('userId', uuid()) userId: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.teams.addMember(actor, id, userId, origin);
  }

  @Delete(':id/members/:userId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a user from a team (needs user.manage).' })
  @ApiNoContentResponse()
  async removeMember(
    @CurrentActor() actor: Actor,
    @Param('id', uuid()) id: string,
    @Param('userId', uuid()) userId: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.teams.removeMember(actor, id, userId, origin);
  }
}

function toTeamDto(team: TeamEntity, memberCount: number): TeamDto {
  return {
    id: team.id,
    name: team.name,
    description: team.description,
    memberCount,
    createdAt: team.createdAt.toISOString(),
  };
}

function toDetailDto({ team, members }: TeamWithMembers): TeamDetailDto {
  return {
    ...toTeamDto(team, members.length),
    members: members.map((user) => ({ id: user.id, username: user.username })),
  };
}
