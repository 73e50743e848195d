import { HOST_SCOPED_PERMISSIONS, PERMISSIONS, type Permission } from '@skiff/protocol';

/** One line per permission for the console and the API docs; a Record, so a new permission cannot go undescribed. */
const DESCRIPTIONS: Readonly<Record<Permission, string>> = {
  'host.view': 'See the host, its status, inventory and labels.',
  'host.manage': 'Change the host: its labels, revoking it, and (on every host) enrolling new ones.',
  'container.view': 'List containers and see their state.',
  'container.inspect': "Read a container's full configuration (docker inspect), its processes and changes.",
  'container.logs': "Read a container's logs and resource usage.",
  'container.exec': 'Run commands in containers and attach to them.',
  'container.manage': 'Create, start, stop, restart, update, rename and remove containers.',
  'container.privileged':
    'Create containers that reach into the host: privileged mode, host mounts, devices, host namespaces.',
  'image.view': 'List and inspect images.',
  'image.manage': 'Pull, build, tag, push, import and remove images.',
  'volume.view': 'List and inspect volumes.',
  'volume.manage': 'Create and remove volumes.',
  'network.view': 'List and inspect networks.',
  'network.manage': 'Create and remove networks and connect containers to them.',
  'user.manage': 'Manage users, teams, roles, host groups and grants.',
  'audit.view': 'Read the audit log.',
  'audit.export': 'Export the audit log.',
};

const HOST_SCOPED: ReadonlySet<Permission> = new Set(HOST_SCOPED_PERMISSIONS);

export interface PermissionInfo {
  name: Permission;
  description: string;
  /** Whether a grant on a host group can give it; the others count only when granted on every host. */
  hostScoped: boolean;
}

export function permissionCatalogue(): PermissionInfo[] {
  return PERMISSIONS.map((name) => ({ name, description: DESCRIPTIONS[name], hostScoped: HOST_SCOPED.has(name) }));
}

/** In the order of PERMISSIONS, without repeats. */
export function sortPermissions(permissions: Iterable<Permission>): Permission[] {
  const wanted = new Set(permissions);
  return PERMISSIONS.filter((permission) => wanted.has(permission));
}
