import { Body, Controller, Get, HttpCode, Logger, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { once } from 'node:events';
import { CurrentActor, Origin } from '../auth/request-context.js';
import { RequirePermission } from '../auth/require-permission.decorator.js';
import {
  AuditExportQueryDto,
  type AuditFilterDto,
  AuditPageDto,
  AuditRetentionDto,
  AuditRetentionResultDto,
  AuditSearchQueryDto,
  AuditVerificationDto,
} from '../dtos/audit.dto.js';
import type { AuditFilter } from '../repositories/audit.repository.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { auditEventView } from '../services/audit-export.js';
import { AuditService } from '../services/audit.service.js';

@ApiTags('audit')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller('audit')
export class AuditController {
  private readonly logger = new Logger('audit');

  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequirePermission('audit.view')
  @ApiOperation({ summary: 'Search the audit log, newest first, a page at a time.' })
  @ApiOkResponse({ type: AuditPageDto })
  async search(@Query() query: AuditSearchQueryDto): Promise<AuditPageDto> {
    const page = await this.audit.search(filterOf(query), query.cursor ?? null, query.limit);
    return { items: page.items.map(auditEventView), nextCursor: page.nextCursor };
  }

  @Get('verify')
  @RequirePermission('audit.view')
  @ApiOperation({
    summary: 'Walk the hash chain from its first row; names the first row that was changed, removed or inserted.',
  })
  @ApiOkResponse({ type: AuditVerificationDto })
  verify(): Promise<AuditVerificationDto> {
    return this.audit.verify();
  }

  @Get('export')
  @RequirePermission('audit.export')
  @ApiOperation({
    summary: 'Download the rows matching the filters, oldest first, as NDJSON or CSV (streamed). Audited.',
  })
  @ApiProduces('application/x-ndjson', 'text/csv')
  @ApiOkResponse({ description: 'One row per line, with its hashes, so the chain can be checked elsewhere.' })
  async export(
    @Query() query: AuditExportQueryDto,
    @CurrentActor() actor: Actor,
    @Origin() origin: RequestOrigin,
    @Res() response: Response,
  ): Promise<void> {
    const file = await this.audit.export(actor, origin, filterOf(query), query.format ?? 'ndjson');
    response.status(200);
    response.setHeader('Content-Type', file.contentType);
    response.setHeader('Content-Disposition', `attachment; filename="${file.filename}"`);
    response.setHeader('Cache-Control', 'no-store');
    try {
      for await (const chunk of file.chunks) {
        if (response.destroyed) return;
        if (!response.write(chunk)) await Promise.race([once(response, 'drain'), once(response, 'close')]);
      }
      response.end();
    } catch (error) {
      // Half a file must not look like a whole one: the connection is cut instead of ended.
      this.logger.error('the audit export stopped half way', error instanceof Error ? error.stack : String(error));
      response.destroy();
    }
  }

  @Post('retention')
  @HttpCode(200)
  @RequirePermission('audit.export', 'user.manage')
  @ApiOperation({
    summary:
      'Remove the rows older than a number of days. The removal is itself audited, and the chain still verifies ' +
      'from the first row kept.',
  })
  @ApiOkResponse({ type: AuditRetentionResultDto })
  async retention(
    @Body() body: AuditRetentionDto,
    @CurrentActor() actor: Actor,
    @Origin() origin: RequestOrigin,
  ): Promise<AuditRetentionResultDto> {
    const result = await this.audit.prune(actor, origin, body.olderThanDays);
    return { ...result, before: result.before.toISOString() };
  }
}

function filterOf(query: AuditFilterDto): AuditFilter {
  return {
    ...(query.actor === undefined ? {} : { actor: query.actor }),
    ...(query.action === undefined ? {} : { action: query.action }),
    ...(query.outcome === undefined ? {} : { outcome: query.outcome }),
    ...(query.hostId === undefined ? {} : { hostId: query.hostId }),
    ...(query.target === undefined ? {} : { target: query.target }),
    ...(query.from === undefined ? {} : { from: new Date(query.from) }),
    ...(query.to === undefined ? {} : { to: new Date(query.to) }),
    ...(query.q === undefined ? {} : { q: query.q }),
  };
}
