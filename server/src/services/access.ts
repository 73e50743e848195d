import { HOST_SCOPED_PERMISSIONS, PERMISSIONS, type Permission, isPermission } from '@skiff/protocol';

/** What access decisions need of a host. */
export interface AccessHost {
  id: string;
  labels: Readonly<Record<string, string>>;
}

export interface AccessHostGroup {
  id: string;
  name: string;
  /** Label key → value; a host is in the group when its labels carry every pair. */
  selector: Readonly<Record<string, string>>;
}

/** One grant of a role, to the user or to a team of theirs. */
export interface AccessGrant {
  /** The role's permissions as stored; names the code does not know are ignored. */
  permissions: readonly string[];
  /** Null: on every host. */
  hostGroup: AccessHostGroup | null;
}

export interface AccessInput {
  /** A disabled user holds nothing, whatever their grants say. */
  disabled: boolean;
  grants: readonly AccessGrant[];
  /** For a caller using an API token: the token's subset; null when it is not limited. */
  tokenPermissions: readonly string[] | null;
}

export interface GroupPermissions {
  group: { id: string; name: string };
  permissions: ReadonlySet<Permission>;
}

const HOST_SCOPED: ReadonlySet<Permission> = new Set(HOST_SCOPED_PERMISSIONS);

/** True when the labels carry every key=value pair of the selector (so an empty selector matches every host). */
export function selectorMatches(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const key in selector) {
    if (!Object.hasOwn(labels, key) || labels[key] !== selector[key]) return false;
  }
  return true;
}

interface GroupEntry {
  group: AccessHostGroup;
  permissions: Set<Permission>;
}

/**
 * What one caller may do, worked out once from their effective grants and kept immutable, so a
 * decision is a set lookup (the engine proxy asks on every call). A permission is held globally
 * when a grant without host group gives it; a host-scoped permission is also held on a host when
 * a grant on a group whose selector matches the host's labels gives it. People and audit
 * permissions given on a group give nothing. A caller using a limited API token holds only what
 * both the token and its owner hold.
 */
export class Access {
  private readonly global: ReadonlySet<Permission>;
  private readonly groups: readonly GroupEntry[];
  private readonly somewhere: ReadonlySet<Permission>;
  /** The token's limit, when the caller uses a token limited to some permissions. */
  readonly tokenPermissions: ReadonlySet<Permission> | null;

  private constructor(input: AccessInput) {
    const limit = input.tokenPermissions === null ? null : new Set(input.tokenPermissions.filter(isPermission));
    const keep = (permission: string): permission is Permission =>
      isPermission(permission) && (limit === null || limit.has(permission));
    const global = new Set<Permission>();
    const groups = new Map<string, GroupEntry>();
    if (!input.disabled) {
      for (const grant of input.grants) {
        if (grant.hostGroup === null) {
          for (const permission of grant.permissions) if (keep(permission)) global.add(permission);
          continue;
        }
        let entry = groups.get(grant.hostGroup.id);
        if (!entry) {
          entry = { group: grant.hostGroup, permissions: new Set() };
          groups.set(grant.hostGroup.id, entry);
        }
        for (const permission of grant.permissions) {
          if (keep(permission) && HOST_SCOPED.has(permission)) entry.permissions.add(permission);
        }
      }
    }
    this.global = global;
    this.groups = [...groups.values()].filter((entry) => entry.permissions.size > 0);
    this.somewhere = new Set([...global, ...this.groups.flatMap((entry) => [...entry.permissions])]);
    this.tokenPermissions = limit;
  }

  static from(input: AccessInput): Access {
    return new Access(input);
  }

  /** Holds nothing at all. */
  static none(): Access {
    return new Access({ disabled: true, grants: [], tokenPermissions: null });
  }

  /** Held on every host (and, for people and audit permissions, held at all). */
  allowsGlobally(permission: Permission): boolean {
    return this.global.has(permission);
  }

  /** Held globally or on at least one host group. */
  allowsSomewhere(permission: Permission): boolean {
    return this.somewhere.has(permission);
  }

  /** Held globally, or on this host through a group that contains it. Without a host: globally. */
  allows(permission: Permission, host?: AccessHost): boolean {
    if (this.global.has(permission)) return true;
    if (host === undefined || !this.somewhere.has(permission)) return false;
    for (const entry of this.groups) {
      if (entry.permissions.has(permission) && selectorMatches(entry.group.selector, host.labels)) return true;
    }
    return false;
  }

  /** Everything `allows(permission, host)` is true for, in the order of PERMISSIONS. */
  permissionsOn(host: AccessHost): Set<Permission> {
    const held = new Set(this.global);
    for (const entry of this.groups) {
      if (selectorMatches(entry.group.selector, host.labels))
        for (const permission of entry.permissions) held.add(permission);
    }
    return new Set(PERMISSIONS.filter((permission) => held.has(permission)));
  }

  globalPermissions(): Set<Permission> {
    return new Set(PERMISSIONS.filter((permission) => this.global.has(permission)));
  }

  /** The host-scoped permissions held on each host group through grants on that group. */
  groupPermissions(): GroupPermissions[] {
    return this.groups.map((entry) => ({
      group: { id: entry.group.id, name: entry.group.name },
      permissions: new Set(PERMISSIONS.filter((permission) => entry.permissions.has(permission))),
    }));
  }
}
