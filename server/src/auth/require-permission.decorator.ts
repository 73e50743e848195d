import { SetMetadata } from '@nestjs/common';
import type { Permission } from '@skiff/protocol';

export const REQUIRED_PERMISSIONS = 'skiff:required-permissions';

/**
 * The route needs every one of these permissions on every host (PermissionGuard checks it). On a
 * controller it applies to each of its routes, together with any a route adds. Routes about one
 * host check that host's permissions in their service instead.
 */
export const RequirePermission = (...permissions: Permission[]) => SetMetadata(REQUIRED_PERMISSIONS, permissions);
