import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator.js';
import { DomainError } from '../errors/domain-error.js';
import { HealthRepository } from '../repositories/health.repository.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthRepository) {}

  @Public()
  @Get()
  @ApiOperation({ summary: 'Liveness and database reachability; needs no authentication.' })
  @ApiOkResponse({ schema: { example: { status: 'ok', database: 'ok' } } })
  async check(): Promise<{ status: 'ok'; database: 'ok' }> {
    if (!(await this.health.databaseAnswers())) throw new DomainError('unavailable', 'the database does not answer');
    return { status: 'ok', database: 'ok' };
  }
}
