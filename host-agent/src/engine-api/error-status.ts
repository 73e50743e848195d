import { randomBytes } from 'node:crypto';
import { type ErrorKind, HTTP_STATUS_OF_ERROR_KIND } from '@skiff/protocol';
import { EngineError } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../logger.js';

/** The one place where an error's kind becomes an HTTP status of the Engine API (the table is the protocol's). */
export function statusOfErrorKind(kind: ErrorKind): number {
  return HTTP_STATUS_OF_ERROR_KIND[kind];
}

/** What a client is told about a failure: `{"message": …}` under the status of its kind. */
export interface ErrorAnswer {
  status: number;
  body: { message: string };
}

/**
 * Turns anything thrown by a handler into the answer a client sees. An EngineError says its own
 * message; anything else is logged in full under a correlation id and shown only as that id, so
 * no stack or host path reaches the client.
 */
export function errorAnswer(error: unknown, logger: Logger, context: string): ErrorAnswer {
  if (error instanceof EngineError) {
    const status = statusOfErrorKind(error.kind);
    if (error.kind === 'internal') logger.error(`${context}: ${errorMessage(error)}`);
    return { status, body: { message: error.message } };
  }
  const correlationId = randomBytes(6).toString('hex');
  const stack = error instanceof Error && error.stack ? `\n${error.stack}` : '';
  logger.error(`${context}: internal error ${correlationId}: ${errorMessage(error)}${stack}`);
  return { status: 500, body: { message: `internal error (correlation id ${correlationId})` } };
}
