import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { HostSummary } from '@skiff/protocol';
import { CurrentActor, Origin } from '../auth/request-context.js';
import { HostDto } from '../dtos/host.dto.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { HostService } from '../services/host.service.js';

const hostId = () => new ParseUUIDPipe({ errorHttpStatusCode: 404 });

@ApiTags('hosts')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller('hosts')
export class HostController {
  constructor(private readonly hosts: HostService) {}

  @Get()
  @ApiOperation({ summary: 'Every enrolled host with its status and inventory.' })
  @ApiOkResponse({ type: [HostDto] })
  list(): Promise<HostSummary[]> {
    return this.hosts.list();
  }

  @Get(':id')
  @ApiOkResponse({ type: HostDto })
  get(@Param('id', hostId()) id: string): Promise<HostSummary> {
    return this.hosts.get(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: "Revoke a host: its agent's link is cut at once and its key is no longer accepted." })
  async revoke(
    @CurrentActor() actor: Actor,
    @Param('id', hostId()) id: string,
    @Origin() origin: RequestOrigin,
  ): Promise<void> {
    await this.hosts.revoke(actor, id, origin);
  }
}
