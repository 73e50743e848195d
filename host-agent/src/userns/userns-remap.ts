/**
 * `--userns-remap`: which host user the root of every container becomes, as dockerd's option of
 * the same name. `default` is the system user `skiffremap`, created on first use with 65,536
 * subordinate uids and gids; any other value is `user[:group]` (names or numbers) whose ranges
 * are read from /etc/subuid and /etc/subgid.
 *
 * Parsing and lookups are pure (the /etc files come in as text); the only side effects, creating
 * the default user and giving it ranges, go through `RemapHost`.
 */
import type { IdMapping } from '../shim/shim-plan.js';
import { IdMap } from './id-map.js';

export const DEFAULT_REMAP_USER = 'skiffremap';
/** What `default` gets, and the least a remapping needs so that `nobody` (65534) has a host id. */
export const DEFAULT_RANGE_SIZE = 65536;
/** Where new ranges start at the lowest, as useradd's SUB_UID_MIN. */
const FIRST_SUBORDINATE_ID = 100000;

export type RemapSpec = { kind: 'default' } | { kind: 'user'; user: string; group?: string };

export class RemapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemapError';
  }
}

const NAME = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;
const NUMBER = /^\d{1,10}$/;

/** `default`, `user`, `user:group`, `uid` or `uid:gid`. */
export function parseRemapSpec(value: string): RemapSpec {
  const text = value.trim();
  if (text === 'default') return { kind: 'default' };
  const parts = text.split(':');
  if (parts.length > 2 || parts.some((part) => !NAME.test(part) && !NUMBER.test(part))) {
    throw new RemapError(
      `--userns-remap must be "default", a user, or user:group (names or ids), not ${JSON.stringify(value)}`,
    );
  }
  const [user = '', group] = parts;
  if (user === '0' || user === 'root') throw new RemapError('--userns-remap cannot map containers to root');
  return group === undefined ? { kind: 'user', user } : { kind: 'user', user, group };
}

export interface AccountFiles {
  passwd: string;
  group: string;
  subuid: string;
  subgid: string;
}

/** One line of /etc/subuid or /etc/subgid. */
export interface SubordinateRange {
  owner: string;
  start: number;
  count: number;
}

export function parseSubordinateIds(text: string): SubordinateRange[] {
  const ranges: SubordinateRange[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [owner = '', start = '', count = ''] = trimmed.split(':');
    if (!NUMBER.test(start) || !NUMBER.test(count) || owner === '') continue;
    ranges.push({ owner, start: Number(start), count: Number(count) });
  }
  return ranges;
}

/** The first id after every range in the files, so that a new range overlaps none. */
export function nextFreeStart(...files: string[]): number {
  let next = FIRST_SUBORDINATE_ID;
  for (const range of files.flatMap(parseSubordinateIds)) next = Math.max(next, range.start + range.count);
  return next;
}

interface Account {
  name: string;
  id: number;
}

/** `name:x:id:…` lines of /etc/passwd or /etc/group. */
function parseAccounts(text: string): Account[] {
  return text
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 3 && fields[0] !== '' && NUMBER.test(fields[2] ?? ''))
    .map((fields) => ({ name: fields[0] ?? '', id: Number(fields[2]) }));
}

function findAccount(accounts: Account[], nameOrId: string, what: 'user' | 'group'): Account {
  const found = NUMBER.test(nameOrId)
    ? (accounts.find((account) => account.id === Number(nameOrId)) ?? { name: nameOrId, id: Number(nameOrId) })
    : accounts.find((account) => account.name === nameOrId);
  if (!found)
    throw new RemapError(
      `--userns-remap: no such ${what} ${JSON.stringify(nameOrId)} in /etc/${what === 'user' ? 'passwd' : 'group'}`,
    );
  return found;
}

/** The ranges listed for an account, by name or by id, as one mapping from container id 0 up. */
function mappingsOf(ranges: SubordinateRange[], account: Account): IdMapping[] {
  const mappings: IdMapping[] = [];
  let insideId = 0;
  for (const range of ranges) {
    if (range.owner !== account.name && range.owner !== String(account.id)) continue;
    mappings.push({ insideId, outsideId: range.start, count: range.count });
    insideId += range.count;
  }
  return mappings;
}

/** The remapping of `spec` as the /etc files describe it; names the file to fix when they do not. */
export function remapFromFiles(spec: RemapSpec, files: AccountFiles): IdMap {
  const userName = spec.kind === 'default' ? DEFAULT_REMAP_USER : spec.user;
  const user = findAccount(parseAccounts(files.passwd), userName, 'user');
  // dockerd's rule: without a group, the group's ranges are those listed under the user's name.
  const group =
    spec.kind === 'user' && spec.group !== undefined
      ? findAccount(parseAccounts(files.group), spec.group, 'group')
      : user;
  const uids = mappingsOf(parseSubordinateIds(files.subuid), user);
  const gids = mappingsOf(parseSubordinateIds(files.subgid), group);
  if (uids.length === 0)
    throw new RemapError(
      `--userns-remap: /etc/subuid has no range for ${user.name}: add a line "${user.name}:<first id>:65536"`,
    );
  if (gids.length === 0)
    throw new RemapError(
      `--userns-remap: /etc/subgid has no range for ${group.name}: add a line "${group.name}:<first id>:65536"`,
    );
  const map = new IdMap(uids, gids);
  for (const [kind, mappings] of [
    ['uid', uids],
    ['gid', gids],
  ] as const) {
    const total = mappings.reduce((sum, mapping) => sum + mapping.count, 0);
    if (total < DEFAULT_RANGE_SIZE) {
      throw new RemapError(
        `--userns-remap: ${user.name} has ${total} subordinate ${kind}s; a container needs ${DEFAULT_RANGE_SIZE} (0 to 65535)`,
      );
    }
    if (mappings.some((mapping) => mapping.outsideId === 0))
      throw new RemapError(
        `--userns-remap: a ${kind} range of ${user.name} starts at 0, which would map containers to root`,
      );
  }
  return map;
}

/** What resolving `default` may do to the host: read the account files, add the user and its ranges. */
export interface RemapHost {
  readAccountFiles(): Promise<AccountFiles>;
  addSystemUser(name: string): Promise<void>;
  /** Adds the ranges given (a missing one is already there). */
  addSubordinateRanges(name: string, uids?: SubordinateRange, gids?: SubordinateRange): Promise<void>;
}

/** Resolves `spec`, creating the default user and its ranges when `default` needs them. */
export async function resolveRemap(spec: RemapSpec, host: RemapHost): Promise<{ map: IdMap; created: string[] }> {
  const created: string[] = [];
  if (spec.kind === 'default') {
    let files = await host.readAccountFiles();
    if (!parseAccounts(files.passwd).some((account) => account.name === DEFAULT_REMAP_USER)) {
      await host.addSystemUser(DEFAULT_REMAP_USER);
      created.push(`user ${DEFAULT_REMAP_USER}`);
      files = await host.readAccountFiles();
    }
    const user = findAccount(parseAccounts(files.passwd), DEFAULT_REMAP_USER, 'user');
    const hasUids = mappingsOf(parseSubordinateIds(files.subuid), user).length > 0;
    const hasGids = mappingsOf(parseSubordinateIds(files.subgid), user).length > 0;
    if (!hasUids || !hasGids) {
      const start = nextFreeStart(files.subuid, files.subgid);
      const range = { owner: DEFAULT_REMAP_USER, start, count: DEFAULT_RANGE_SIZE };
      await host.addSubordinateRanges(DEFAULT_REMAP_USER, hasUids ? undefined : range, hasGids ? undefined : range);
      created.push(`subordinate ids ${start}-${start + DEFAULT_RANGE_SIZE - 1}`);
    }
  }
  return { map: remapFromFiles(spec, await host.readAccountFiles()), created };
}
