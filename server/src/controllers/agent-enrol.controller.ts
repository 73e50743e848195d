import { Body, Controller, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator.js';
import { Origin } from '../auth/request-context.js';
import { EnrolDto, EnrolledDto } from '../dtos/host.dto.js';
import type { RequestOrigin } from '../services/actor.js';
import { HostService } from '../services/host.service.js';

@ApiTags('agents')
@Controller('agents')
export class AgentEnrolController {
  constructor(private readonly hosts: HostService) {}

  @Public()
  @Post('enrol')
  @ApiOperation({
    summary: "An agent's one-time enrolment: a join token and the Ed25519 key it signs with from now on.",
  })
  @ApiCreatedResponse({ type: EnrolledDto })
  async enrol(@Body() body: EnrolDto, @Origin() origin: RequestOrigin): Promise<EnrolledDto> {
    const host = await this.hosts.enrol(body, origin);
    return { hostId: host.id, name: host.name };
  }
}
