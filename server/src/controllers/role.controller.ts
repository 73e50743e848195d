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
import { isPermission } from '@skiff/protocol';
import { CurrentActor, Origin } from '../auth/request-context.js';
import { RequirePermission } from '../auth/require-permission.decorator.js';
import { CreateRoleDto, RoleDto, UpdateRoleDto } from '../dtos/role.dto.js';
import type { RoleEntity } from '../entities/role.entity.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { RoleService } from '../services/role.service.js';

const uuid = () => new ParseUUIDPipe({ errorHttpStatusCode: 404 });

@ApiTags('access')
@ApiCookieAuth()
@ApiBearerAuth()
@RequirePermission('user.manage')
@Controller('roles')
export class RoleController {
  constructor(private readonly roles: RoleService) {}

  @Get()
  @ApiOperation({ summary: 'Every role, built-in ones first (needs user.manage).' })
  @ApiOkResponse({ type: [RoleDto] })
  async list(): Promise<RoleDto[]> {
    return (await this.roles.list()).map(toRoleDto);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One role (needs user.manage).' })
  @ApiOkResponse({ type: RoleDto })
  async get(@Param('id', uuid()) id: string): Promise<RoleDto> {
    return toRoleDto(await this.roles.get(id));
  }

  @Post()
  @ApiOperation({ summary: 'Create a custom role from permissions of GET /api/permissions (needs user.manage).' })
  @ApiCreatedResponse({ type: RoleDto })
  async create(
    @CurrentActor() actor: Actor,
    @Body() body: CreateRoleDto,
    @Origin() origin: RequestOrigin,
  ): Promise<RoleDto> {
    const input = { name: body.name, description: body.description ?? '', permissions: body.permissions };
    return toRoleDto(await this.roles.create(actor, input, origin));
  }

  @Patch(':id')
  @ApiOperation({
    summary:
      'Change a custom role; it changes what every grant of it gives. Built-in roles are read-only (409) ' +
      '(needs user.manage).',
  })
  @ApiOkResponse({ type: RoleDto })
  async update(
    @CurrentActor() actor: Actor,
    @Param('id', uuid()) id: string,
    @Body() body: UpdateRoleDto,
    @Origin() origin: RequestOrigin,
  ): Promise<RoleDto> {
    return toRoleDto(await this.roles.update(actor, id, body, origin));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary:
      'Delete a custom role that no grant uses; built-in roles and roles in use are refused (409) (needs user.manage).',
  })
  @ApiNoContentResponse()
  async delete(
    @CurrentActor() actor: Actor,
    @Param('id', uuid()) id: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.roles.delete(actor, id, origin);
  }
}

function toRoleDto(role: RoleEntity): RoleDto {
  return {
    id: role.id,
    name: role.name,
    description: role.description,
    builtIn: role.builtIn,
    permissions: role.permissions.filter(isPermission),
    createdAt: role.createdAt.toISOString(),
    updatedAt: role.updatedAt.toISOString(),
  };
}
