import { invalidArgument } from '../engine-error.js';
import type { CreateRequest } from './create-request.js';

/** What the image says about how its containers run (the `config` of its image config). */
export interface ImageRuntimeConfig {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  Volumes?: Record<string, unknown> | null;
  Labels?: Record<string, string> | null;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * argv by Docker's rules: an entrypoint given on create replaces the image's and drops the
 * image's Cmd too, unless a Cmd is also given; a Cmd given alone replaces only the image's Cmd.
 */
export function effectiveArgs(request: Pick<CreateRequest, 'cmd' | 'entrypoint'>, image: ImageRuntimeConfig): string[] {
  const entrypoint = request.entrypoint ?? image.Entrypoint ?? [];
  const cmd = request.cmd ?? (request.entrypoint !== null ? [] : (image.Cmd ?? []));
  const args = [...entrypoint, ...cmd];
  if (args.length === 0 || args[0] === '')
    throw invalidArgument('no command specified: give one, or use an image with a CMD or ENTRYPOINT');
  return args;
}

/** The image's environment, overridden key by key by the request's, with PATH and HOSTNAME as Docker sets them. */
export function effectiveEnv(
  requestEnv: string[],
  image: ImageRuntimeConfig,
  hostname: string,
  tty: boolean,
): string[] {
  const merged = new Map<string, string>();
  const put = (entry: string) => {
    const index = entry.indexOf('=');
    const key = index < 0 ? entry : entry.slice(0, index);
    // `-e NAME` without a value: Docker's CLI resolves it on the client; a bare name here is dropped.
    if (index < 0) return;
    merged.set(key, entry);
  };
  put(`PATH=${DEFAULT_PATH}`);
  put(`HOSTNAME=${hostname}`);
  if (tty) put('TERM=xterm');
  for (const entry of image.Env ?? []) put(entry);
  for (const entry of requestEnv) put(entry);
  // HOSTNAME is always the container's own, as in Docker.
  put(`HOSTNAME=${hostname}`);
  return [...merged.values()];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

/**
 * `--user` as Docker takes it: `name`, `uid`, `name:group`, `uid:gid`, resolved against the
 * container's own /etc/passwd and /etc/group (their text, read by the caller from the rootfs).
 */
export function resolveUser(
  spec: string,
  passwd: string | null,
  group: string | null,
  groupAdd: string[] = [],
): ResolvedUser {
  // No user means uid 0, looked up by number: an image without /etc/passwd (FROM scratch) runs as root.
  const [userPart = '', groupPart] = (spec || '0').split(':', 2);
  const users = parseColonFile(passwd);
  const groups = parseColonFile(group);
  let uid: number;
  let gid: number;
  let home = '/';
  let name: string | undefined;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = users.find((fields) => fields[2] === userPart);
    gid = entry ? Number(entry[3]) : 0;
    home = entry?.[5] || '/';
    name = entry?.[0];
  } else {
    const entry = users.find((fields) => fields[0] === userPart);
    if (!entry)
      throw invalidArgument(`unable to find user ${userPart}: no matching entries in the container's /etc/passwd`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] || '/';
    name = userPart;
  }
  if (groupPart !== undefined) gid = groupId(groupPart, groups);
  const additional = new Set<number>();
  if (name) {
    for (const fields of groups) {
      if ((fields[3] ?? '').split(',').includes(name)) additional.add(Number(fields[2]));
    }
  }
  for (const extra of groupAdd) additional.add(groupId(extra, groups));
  additional.delete(gid);
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) throw invalidArgument(`invalid user "${spec}"`);
  return { uid, gid, additionalGids: [...additional].sort((a, b) => a - b), home };
}

function groupId(spec: string, groups: string[][]): number {
  if (/^\d+$/.test(spec)) return Number(spec);
  const entry = groups.find((fields) => fields[0] === spec);
  if (!entry) throw invalidArgument(`unable to find group ${spec}: no matching entries in the container's /etc/group`);
  return Number(entry[2]);
}

function parseColonFile(text: string | null): string[][] {
  return (text ?? '')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(':'));
}
