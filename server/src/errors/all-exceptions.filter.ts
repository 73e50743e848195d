import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger, Optional } from '@nestjs/common';
import type { ErrorBody } from '@skiff/protocol';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { DeniedRequestAudit } from './denied-request-audit.js';
import { DomainError } from './domain-error.js';
import { errorKindOfStatus, httpStatusOf } from './error-status.js';

/** The only exit for errors of the REST API: every answer is an `ErrorBody`, and nothing internal leaks. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('errors');

  constructor(@Optional() private readonly deniedRequests?: DeniedRequestAudit) {}

  catch(error: unknown, host: ArgumentsHost): void | Promise<void> {
    const response = host.switchToHttp().getResponse<Response>();
    const { status, body } = this.toAnswer(error);
    const answer = () => {
      if (response.headersSent) {
        response.end();
        return;
      }
      response.status(status).json(body);
    };
    // A refused request leaves its audit row before it is answered.
    if (status === 403 && this.deniedRequests && host.getType() === 'http') {
      return this.deniedRequests.record(host.switchToHttp().getRequest<Request>(), body.message).then(answer);
    }
    answer();
  }

  toAnswer(error: unknown): { status: number; body: ErrorBody } {
    if (error instanceof DomainError) {
      return { status: httpStatusOf(error.kind), body: { ...error.details, kind: error.kind, message: error.message } };
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      if (status < 500) {
        return { status, body: { kind: errorKindOfStatus(status), message: messageOf(error) } };
      }
    }
    if (isBodyParserError(error)) {
      return { status: 400, body: { kind: 'invalid-argument', message: `malformed request body: ${error.message}` } };
    }
    const correlationId = randomUUID();
    this.logger.error(`internal error ${correlationId}`, error instanceof Error ? error.stack : String(error));
    return {
      status: 500,
      body: { kind: 'internal', message: `internal error; the server logged it as ${correlationId}`, correlationId },
    };
  }
}

function messageOf(error: HttpException): string {
  const response = error.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  if (typeof message === 'string') return message;
  return error.message;
}

function isBodyParserError(error: unknown): error is Error & { type: string } {
  return error instanceof Error && typeof (error as { type?: unknown }).type === 'string' && 'status' in error;
}
