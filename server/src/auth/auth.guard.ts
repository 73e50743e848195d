import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { forbidden, unauthenticated } from '../errors/domain-error.js';
import { AuthService } from '../services/auth.service.js';
import { IS_PUBLIC } from './public.decorator.js';
import { type AuthenticatedRequest, SESSION_COOKIE } from './request-context.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every route needs a caller unless marked @Public(): a personal API token (`Authorization: Bearer`)
 * or a browser session cookie. Unsafe methods on a session also need its CSRF token in `X-CSRF-Token`.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();

    const authorization = request.get('authorization');
    if (authorization) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) throw unauthenticated('the Authorization header must be "Bearer <API token>"');
      request.actor = await this.auth.resolveApiToken(match[1]);
      return true;
    }

    const cookies = request.cookies as Record<string, string | undefined> | undefined;
    const sessionToken = cookies?.[SESSION_COOKIE];
    if (!sessionToken) throw unauthenticated('sign in first, or send an API token as "Authorization: Bearer <token>"');
    const session = await this.auth.resolveSession(sessionToken);
    if (!session) throw unauthenticated('your session has expired; sign in again');
    if (!SAFE_METHODS.has(request.method) && !this.auth.csrfMatches(session.csrfToken, request.get('x-csrf-token'))) {
      throw forbidden('missing or wrong X-CSRF-Token header for this session');
    }
    request.actor = session.actor;
    request.sessionToken = sessionToken;
    return true;
  }
}
