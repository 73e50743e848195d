import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Put } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCookieAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentActor, Origin } from '../auth/request-context.js';
import { HostDto, SetHostLabelsDto } from '../dtos/host.dto.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { HostService, type HostView } from '../services/host.service.js';

const hostId = () => new ParseUUIDPipe({ errorHttpStatusCode: 404 });

@ApiTags('hosts')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller('hosts')
export class HostController {
  constructor(private readonly hosts: HostService) {}

  @Get()
  @ApiOperation({ summary: 'The enrolled hosts you have host.view on, with status, inventory and labels.' })
  @ApiOkResponse({ type: [HostDto] })
  list(@CurrentActor() actor: Actor): Promise<HostView[]> {
    return this.hosts.listVisible(actor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One host; 404 for a host you have no host.view on.' })
  @ApiOkResponse({ type: HostDto })
  get(@CurrentActor() actor: Actor, @Param('id', hostId()) id: string): Promise<HostView> {
    return this.hosts.get(actor, id);
  }

  @Put(':id/labels')
  @ApiOperation({
    summary:
      "Replace a host's labels, which decide the host groups it is in (host.manage on the host). Labels that " +
      'would give you a permission on the host you do not hold now are refused.',
  })
  @ApiOkResponse({ type: HostDto })
  setLabels(
    @CurrentActor() actor: Actor,
    @Param('id', hostId()) id: string,
    @Body() body: SetHostLabelsDto,
    @Origin() origin: RequestOrigin,
  ): Promise<HostView> {
    return this.hosts.setLabels(actor, id, body.labels, origin);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: "Revoke a host: its agent's link is cut at once and its key is no longer accepted (host.manage on it).",
  })
  @ApiNoContentResponse()
  async revoke(
    @CurrentActor() actor: Actor,
    @Param('id', hostId()) id: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.hosts.revoke(actor, id, origin);
  }
}
