import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor } from '../auth/request-context.js';
import { FleetContainerQueryDto, FleetContainersDto } from '../dtos/fleet.dto.js';
import type { Actor } from '../services/actor.js';
import { FleetService } from '../services/fleet.service.js';

@ApiTags('fleet')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller()
export class FleetController {
  constructor(private readonly fleet: FleetService) {}

  @Get('containers')
  @ApiOperation({
    summary: 'Containers across every host you may see, with counts per host',
    description: 'Needs container.view on a host to list its containers. Offline hosts are listed with an error.',
  })
  @ApiOkResponse({ type: FleetContainersDto })
  containers(@CurrentActor() actor: Actor, @Query() query: FleetContainerQueryDto): Promise<FleetContainersDto> {
    return this.fleet.containers(actor, query);
  }

  @Get('events')
  @ApiOperation({
    summary: 'The Docker events of every host you may see, as one stream (one JSON document per line)',
    description: 'Each line is `{hostId, hostName, event}`; the stream stays open until the client leaves.',
  })
  @ApiProduces('application/x-ndjson')
  async events(@CurrentActor() actor: Actor, @Res() response: Response): Promise<void> {
    response.status(200);
    response.setHeader('Content-Type', 'application/x-ndjson');
    response.setHeader('Cache-Control', 'no-cache');
    response.flushHeaders();
    let dropped = 0;
    const stop = await this.fleet.subscribe(actor, (event) => {
      // A client that stopped reading loses events rather than growing the server's memory.
      if (response.writableLength > 1024 * 1024) {
        dropped += 1;
        return;
      }
      if (dropped > 0) {
        response.write(`${JSON.stringify({ dropped })}\n`);
        dropped = 0;
      }
      response.write(`${JSON.stringify(event)}\n`);
    });
    response.once('close', stop);
  }
}
