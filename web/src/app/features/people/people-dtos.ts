/*
 * The answers and bodies of the people endpoints (server/src/dtos/{user,team,role,host-group,grant,
 * permission,me,api-token}.dto.ts). Like session-info.ts, they belong in @skiff/protocol once the
 * server publishes them there.
 */
import type { Permission } from '@skiff/protocol';

/** Usernames: 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit. */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** Names of teams, roles and host groups. */
export const DISPLAY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_DESCRIPTION_LENGTH = 512;

export interface IdName {
  id: string;
  name: string;
}

export interface UserRef {
  id: string;
  username: string;
}

export interface UserAccount {
  id: string;
  username: string;
  disabled: boolean;
  disabledAt: string | null;
  totpEnabled: boolean;
  createdAt: string;
}

export interface Team {
  id: string;
  name: string;
  description: string;
  memberCount: number;
  createdAt: string;
}

export interface TeamDetail extends Team {
  members: UserRef[];
}

export interface Role {
  id: string;
  name: string;
  description: string;
  builtIn: boolean;
  permissions: Permission[];
  createdAt: string;
  updatedAt: string;
}

export interface RoleInput {
  name: string;
  description: string;
  permissions: Permission[];
}

export interface HostGroup {
  id: string;
  name: string;
  description: string;
  selector: Record<string, string>;
  /** The active hosts whose labels match the selector now. */
  hosts: IdName[];
  createdAt: string;
  updatedAt: string;
}

export interface HostGroupInput {
  name: string;
  description: string;
  selector: Record<string, string>;
}

export interface Grant {
  id: string;
  role: IdName;
  user: UserRef | null;
  team: IdName | null;
  /** null: on every host. */
  hostGroup: IdName | null;
  createdAt: string;
  createdBy: string | null;
}

export interface GrantFilter {
  userId?: string;
  teamId?: string;
  roleId?: string;
  hostGroupId?: string;
}

export interface NewGrant {
  roleId: string;
  userId?: string;
  teamId?: string;
  hostGroupId?: string;
}

export interface PermissionInfo {
  name: Permission;
  description: string;
  /** Whether a grant on a host group gives it; the others count only on every host. */
  hostScoped: boolean;
}

export interface MyPermissions {
  global: Permission[];
  hostGroups: { group: IdName; permissions: Permission[] }[];
  hosts: Record<string, Permission[]>;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  /** null: everything its owner may do. */
  permissions: Permission[] | null;
}

export interface CreatedApiToken extends ApiToken {
  /** Shown only this once. */
  token: string;
}

export interface NewApiToken {
  name: string;
  expiresAt?: string;
  permissions?: Permission[];
}

export interface TotpEnrolment {
  secret: string;
  uri: string;
}
