import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Permission } from '@skiff/protocol';
import { forbidden, unauthenticated } from '../errors/domain-error.js';
import { AccessService } from '../services/access.service.js';
import { REQUIRED_PERMISSIONS } from './require-permission.decorator.js';
import type { AuthenticatedRequest } from './request-context.js';

/**
 * Enforces @RequirePermission. Registered after AuthGuard (global guards run in the order they are
 * provided), so the caller is known by the time it runs.
 */
@Injectable()
export class PermissionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly access: AccessService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const required = this.reflector.getAllAndMerge<Permission[]>(REQUIRED_PERMISSIONS, [
      context.getClass(),
      context.getHandler(),
    ]);
    if (required.length === 0) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!request.actor) throw unauthenticated('sign in first, or send an API token as "Authorization: Bearer <token>"');
    const access = await this.access.resolve(request.actor);
    const missing = required.find((permission) => !access.allowsGlobally(permission));
    if (missing) throw forbidden(`${request.method} ${routeOf(request)} needs the ${missing} permission`);
    return true;
  }
}

function routeOf(request: AuthenticatedRequest): string {
  const route = (request.route as { path?: unknown } | undefined)?.path;
  return typeof route === 'string' ? route : request.path;
}
