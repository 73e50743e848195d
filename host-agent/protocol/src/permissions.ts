/**
 * What a caller may do. Roles are sets of these; grants give a role to a user or a team, on every
 * host or on a host group. The engine routes name the one each needs (see engine-routes.ts).
 */
export const PERMISSIONS = [
  'host.view',
  'host.manage',
  'container.view',
  'container.inspect',
  'container.logs',
  'container.exec',
  'container.manage',
  'container.privileged',
  'image.view',
  'image.manage',
  'volume.view',
  'volume.manage',
  'network.view',
  'network.manage',
  'user.manage',
  'audit.view',
  'audit.export',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

/** Permissions that make sense on a host group; the rest (people, audit) are global only. */
export const HOST_SCOPED_PERMISSIONS = [
  'host.view',
  'host.manage',
  'container.view',
  'container.inspect',
  'container.logs',
  'container.exec',
  'container.manage',
  'container.privileged',
  'image.view',
  'image.manage',
  'volume.view',
  'volume.manage',
  'network.view',
  'network.manage',
] as const satisfies readonly Permission[];

export type HostScopedPermission = (typeof HOST_SCOPED_PERMISSIONS)[number];

export const BUILT_IN_ROLE_NAMES = ['admin', 'operator', 'viewer'] as const;

export type BuiltInRoleName = (typeof BUILT_IN_ROLE_NAMES)[number];

/**
 * - admin: everything.
 * - operator: runs the fleet's workloads (exec included) but cannot run privileged containers,
 *   change hosts, manage people or export the audit log.
 * - viewer: sees hosts, containers, their logs and inspect output; changes nothing, no exec.
 */
export const BUILT_IN_ROLES: Readonly<Record<BuiltInRoleName, readonly Permission[]>> = {
  admin: PERMISSIONS,
  operator: [
    'host.view',
    'container.view',
    'container.inspect',
    'container.logs',
    'container.exec',
    'container.manage',
    'image.view',
    'image.manage',
    'volume.view',
    'volume.manage',
    'network.view',
    'network.manage',
    'audit.view',
  ],
  viewer: [
    'host.view',
    'container.view',
    'container.inspect',
    'container.logs',
    'image.view',
    'volume.view',
    'network.view',
  ],
};

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value);
}
