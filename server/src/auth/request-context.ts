import { type ExecutionContext, createParamDecorator } from '@nestjs/common';
import type { Request } from 'express';
import type { Actor, RequestOrigin } from '../services/actor.js';

export const SESSION_COOKIE = 'skiff_session';

export interface AuthenticatedRequest extends Request {
  actor?: Actor;
  sessionToken?: string;
}

export function originOf(request: Request): RequestOrigin {
  return { address: request.ip ?? request.socket.remoteAddress ?? null, userAgent: request.get('user-agent') ?? null };
}

/** The authenticated caller; the global guard has set it on every non-public route. */
export const CurrentActor = createParamDecorator((_: unknown, context: ExecutionContext): Actor => {
  const actor = context.switchToHttp().getRequest<AuthenticatedRequest>().actor;
  if (!actor) throw new Error('CurrentActor used on a public route');
  return actor;
});

export const Origin = createParamDecorator((_: unknown, context: ExecutionContext): RequestOrigin =>
  originOf(context.switchToHttp().getRequest<Request>()),
);
