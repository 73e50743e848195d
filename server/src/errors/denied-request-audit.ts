import { Injectable, Logger } from '@nestjs/common';
import type { Request } from 'express';
import { type AuthenticatedRequest, originOf } from '../auth/request-context.js';
import { summariseBody } from '../services/audit-summary.js';
import { unsuccessfulRecordedInScope } from '../services/audit-scope.js';
import { AuditService } from '../services/audit.service.js';

/**
 * Engine API calls through the proxy (`/api/hosts/:hostId/engine/…`) write their own audit rows,
 * refusals included, with the route, host and object they were about.
 */
export function isEngineProxyPath(path: string): boolean {
  return path.startsWith('/api/hosts/') && path.includes('/engine/');
}

/** `http.<METHOD> <route template>`, e.g. `http.POST /api/users/:id/grants`; ids and queries stay out of it. */
export function deniedRequestAction(request: Pick<Request, 'method' | 'path' | 'route'>): string {
  const template = (request.route as { path?: unknown } | undefined)?.path;
  return `http.${request.method} ${typeof template === 'string' ? template : request.path}`;
}

/**
 * Writes the audit row of a request refused with 403, from a guard or a service alike, unless the
 * request already wrote its own row of the failure (a service that audits its refusals).
 */
@Injectable()
export class DeniedRequestAudit {
  private readonly logger = new Logger('audit');

  constructor(private readonly audit: AuditService) {}

  /** Never fails: a row that cannot be written is logged, and the request is answered all the same. */
  async record(request: AuthenticatedRequest, message: string): Promise<void> {
    const path = request.originalUrl.split('?')[0];
    if (isEngineProxyPath(path) || unsuccessfulRecordedInScope()) return;
    const body: unknown = request.body;
    const hasBody =
      body !== undefined && body !== null && !(typeof body === 'object' && Object.keys(body).length === 0);
    try {
      await this.audit.record(request.actor ? { actor: request.actor } : { anonymous: null }, originOf(request), {
        action: deniedRequestAction(request),
        outcome: 'denied',
        target: path,
        status: 403,
        error: message,
        details: hasBody ? { body: summariseBody(body) } : {},
      });
    } catch (error) {
      this.logger.error(`the audit row of a refused ${request.method} ${path} could not be written`, error);
    }
  }
}
