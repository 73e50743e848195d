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
import { CreateHostGroupDto, HostGroupDto, UpdateHostGroupDto } from '../dtos/host-group.dto.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { HostGroupService, type HostGroupWithHosts } from '../services/host-group.service.js';

const uuid = () => new ParseUUIDPipe({ errorHttpStatusCode: 404 });

@ApiTags('access')
@ApiCookieAuth()
@ApiBearerAuth()
@RequirePermission('user.manage')
@Controller('host-groups')
export class HostGroupController {
  constructor(private readonly groups: HostGroupService) {}

  @Get()
  @ApiOperation({ summary: 'Every host group with the hosts in it now (needs user.manage).' })
  @ApiOkResponse({ type: [HostGroupDto] })
  async list(): Promise<HostGroupDto[]> {
    return (await this.groups.list()).map(toHostGroupDto);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One host group with the hosts in it now (needs user.manage).' })
  @ApiOkResponse({ type: HostGroupDto })
  async get(@Param('id', uuid()) id: string): Promise<HostGroupDto> {
    return toHostGroupDto(await this.groups.get(id));
  }

  @Post()
  @ApiOperation({
    summary: 'Create a host group: the hosts whose labels carry every pair of its selector (needs user.manage).',
  })
  @ApiCreatedResponse({ type: HostGroupDto })
  async create(
    @CurrentActor() actor: Actor,
    @Body() body: CreateHostGroupDto,
    @Origin() origin: RequestOrigin,
  ): Promise<HostGroupDto> {
    const input = { name: body.name, description: body.description ?? '', selector: body.selector };
    return toHostGroupDto(await this.groups.create(actor, input, origin));
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change a host group; a new selector moves hosts in or out, and with them its grants (needs user.manage).',
  })
  @ApiOkResponse({ type: HostGroupDto })
  async update(
    @CurrentActor() actor: Actor,
    @Param('id', uuid()) id: string,
    @Body() body: UpdateHostGroupDto,
    @Origin() origin: RequestOrigin,
  ): Promise<HostGroupDto> {
    return toHostGroupDto(await this.groups.update(actor, id, body, origin));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a host group and every grant on it (needs user.manage).' })
  @ApiNoContentResponse()
  async delete(
    @CurrentActor() actor: Actor,
    @Param('id', uuid()) id: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.groups.delete(actor, id, origin);
  }
}

function toHostGroupDto({ group, hosts }: HostGroupWithHosts): HostGroupDto {
  return {
    id: group.id,
    name: group.name,
    description: group.description,
    selector: group.selector,
    hosts: hosts.map((host) => ({ id: host.id, name: host.name })),
    createdAt: group.createdAt.toISOString(),
    updatedAt: group.updatedAt.toISOString(),
  };
}
