import type { Permission } from './permissions.js';

/**
 * The Docker Engine API routes Skiff serves: one table read by the agent's router (which answers
 * a route missing from it with 404) and by the server's proxy (which checks the permission and
 * writes the audit record before forwarding).
 */

/** The permissions engine routes need: every host-scoped one but `container.privileged` and
 * `host.manage`, which the proxy checks from a request's body and the server's own routes. */
export const ENGINE_PERMISSIONS = [
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
] as const satisfies readonly Permission[];

export type EnginePermission = (typeof ENGINE_PERMISSIONS)[number];

/**
 * How a route's bytes flow, which decides how a door carries it:
 * - `none`: one request body (JSON or empty), one answer with a length.
 * - `hijack`: the connection becomes a raw two-way stream (`101 UPGRADED`, `Upgrade: tcp`).
 * - `chunked`: the answer streams for as long as the server has something to say (logs follow,
 *   stats, events, pull/push progress, wait, tar downloads).
 * - `upload`: the request body streams into the handler (tar archives); the answer may stream too.
 */
export const ENGINE_STREAM_KINDS = ['none', 'hijack', 'chunked', 'upload'] as const;

export type EngineStreamKind = (typeof ENGINE_STREAM_KINDS)[number];

export type EngineMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

export interface EngineRoute {
  /** `METHOD template`, e.g. `POST /containers/{id}/start`: the name handlers register under. */
  readonly key: string;
  readonly method: EngineMethod;
  /** Path without the `/v1.NN` prefix; `{param}` stands for one path parameter. */
  readonly path: string;
  readonly permission: EnginePermission;
  /** The audit log's name for what the call does, or null for a call that changes nothing. */
  readonly audit: string | null;
  readonly stream: EngineStreamKind;
}

const route = <const M extends EngineMethod, const P extends string, const S extends EngineStreamKind = 'none'>(
  method: M,
  path: P,
  permission: EnginePermission,
  audit: string | null,
  stream: S = 'none' as S,
) => ({ key: `${method} ${path}` as const, method, path, permission, audit, stream });

/**
 * Every route, in no particular order: matching prefers fixed paths over templates, so
 * `GET /images/json` lists images even though `GET /images/{name}/json` could match it too.
 */
export const ENGINE_ROUTES = [
  // System
  route('GET', '/_ping', 'host.view', null),
  route('HEAD', '/_ping', 'host.view', null),
  route('GET', '/version', 'host.view', null),
  route('GET', '/info', 'host.view', null),
  route('GET', '/system/df', 'host.view', null),
  route('GET', '/events', 'host.view', null, 'chunked'),
  route('POST', '/auth', 'image.manage', 'registry.login'),

  // Containers
  route('GET', '/containers/json', 'container.view', null),
  route('POST', '/containers/create', 'container.manage', 'container.create'),
  route('POST', '/containers/prune', 'container.manage', 'container.prune'),
  route('GET', '/containers/{id}/json', 'container.inspect', null),
  route('GET', '/containers/{id}/top', 'container.inspect', null),
  route('GET', '/containers/{id}/changes', 'container.inspect', null),
  route('GET', '/containers/{id}/stats', 'container.inspect', null, 'chunked'),
  route('GET', '/containers/{id}/logs', 'container.logs', null, 'chunked'),
  route('POST', '/containers/{id}/start', 'container.manage', 'container.start'),
  route('POST', '/containers/{id}/stop', 'container.manage', 'container.stop'),
  route('POST', '/containers/{id}/restart', 'container.manage', 'container.restart'),
  route('POST', '/containers/{id}/kill', 'container.manage', 'container.kill'),
  route('POST', '/containers/{id}/pause', 'container.manage', 'container.pause'),
  route('POST', '/containers/{id}/unpause', 'container.manage', 'container.unpause'),
  route('POST', '/containers/{id}/update', 'container.manage', 'container.update'),
  route('POST', '/containers/{id}/rename', 'container.manage', 'container.rename'),
  // Blocks until the condition is met; dockerd sends the headers at once and the body at the end.
  route('POST', '/containers/{id}/wait', 'container.view', null, 'chunked'),
  route('DELETE', '/containers/{id}', 'container.manage', 'container.remove'),
  route('POST', '/containers/{id}/attach', 'container.exec', 'container.attach', 'hijack'),
  route('POST', '/containers/{id}/resize', 'container.exec', 'container.resize'),
  route('POST', '/containers/{id}/exec', 'container.exec', 'exec.create'),
  // Reading or writing a container's files is as strong as exec; a stat of one path is not.
  route('HEAD', '/containers/{id}/archive', 'container.inspect', null),
  route('GET', '/containers/{id}/archive', 'container.exec', 'container.copy-out', 'chunked'),
  route('PUT', '/containers/{id}/archive', 'container.exec', 'container.copy-in', 'upload'),
  route('GET', '/containers/{id}/export', 'container.exec', 'container.export', 'chunked'),

  // Exec instances
  route('POST', '/exec/{id}/start', 'container.exec', 'exec.start', 'hijack'),
  route('POST', '/exec/{id}/resize', 'container.exec', 'exec.resize'),
  route('GET', '/exec/{id}/json', 'container.inspect', null),

  // Images; `{name}` spans slashes here (see matchEngineRoute)
  route('GET', '/images/json', 'image.view', null),
  // Pull (`fromImage`, progress streams back) or import (`fromSrc=-`, the body is a tar).
  route('POST', '/images/create', 'image.manage', 'image.create', 'upload'),
  route('POST', '/images/load', 'image.manage', 'image.load', 'upload'),
  route('GET', '/images/get', 'image.view', null, 'chunked'),
  route('POST', '/images/prune', 'image.manage', 'image.prune'),
  route('GET', '/images/{name}/json', 'image.view', null),
  route('GET', '/images/{name}/history', 'image.view', null),
  route('GET', '/images/{name}/get', 'image.view', null, 'chunked'),
  route('POST', '/images/{name}/tag', 'image.manage', 'image.tag'),
  route('POST', '/images/{name}/push', 'image.manage', 'image.push', 'chunked'),
  route('DELETE', '/images/{name}', 'image.manage', 'image.remove'),
  route('POST', '/build', 'image.manage', 'image.build', 'upload'),
  route('POST', '/build/prune', 'image.manage', 'image.build-prune'),

  // Volumes
  route('GET', '/volumes', 'volume.view', null),
  route('POST', '/volumes/create', 'volume.manage', 'volume.create'),
  route('POST', '/volumes/prune', 'volume.manage', 'volume.prune'),
  route('GET', '/volumes/{name}', 'volume.view', null),
  route('DELETE', '/volumes/{name}', 'volume.manage', 'volume.remove'),

  // Networks
  route('GET', '/networks', 'network.view', null),
  route('POST', '/networks/create', 'network.manage', 'network.create'),
  route('POST', '/networks/prune', 'network.manage', 'network.prune'),
  route('GET', '/networks/{id}', 'network.view', null),
  route('DELETE', '/networks/{id}', 'network.manage', 'network.remove'),
  route('POST', '/networks/{id}/connect', 'network.manage', 'network.connect'),
  route('POST', '/networks/{id}/disconnect', 'network.manage', 'network.disconnect'),
] as const satisfies readonly EngineRoute[];

type TabledRoute = (typeof ENGINE_ROUTES)[number];

/** `'POST /containers/{id}/start' | 'GET /images/json' | …` */
export type EngineRouteKey = TabledRoute['key'];

/** The keys of the routes whose connection is hijacked (attach, exec start). */
export type EngineHijackRouteKey = Extract<TabledRoute, { stream: 'hijack' }>['key'];

type ParamNames<Template extends string> = Template extends `${string}{${infer Name}}${infer Rest}`
  ? Name | ParamNames<Rest>
  : never;

type PathOf<Key extends string> = Key extends `${string} ${infer Path}` ? Path : never;

/** The path parameters of a route, e.g. `{ id: string }` for `POST /containers/{id}/start`. */
export type EngineRouteParams<Key extends EngineRouteKey> = { readonly [Name in ParamNames<PathOf<Key>>]: string };

export interface EngineRouteMatch {
  route: EngineRoute & { readonly key: EngineRouteKey };
  /** Path parameters, percent-decoded. */
  params: Readonly<Record<string, string>>;
  /** `1.41` for `/v1.41/…`; undefined for an unversioned path. */
  apiVersion: string | undefined;
}

interface CompiledRoute {
  route: TabledRoute;
  pattern: RegExp;
  names: string[];
}

/**
 * Image names carry slashes and colons (`127.0.0.1:5000/busybox:local`), so an image's `{name}`
 * is everything between `/images/` and the route's fixed suffix, as with dockerd's `{name:.*}`.
 * Every other parameter is one path segment.
 */
function spansSlashes(path: string, name: string): boolean {
  return path.startsWith('/images/') && name === 'name';
}

function compile(route: TabledRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]|\{(\w+)\}/g, (token, name: string | undefined) => {
    if (name === undefined) return `\\${token}`;
    names.push(name);
    return spansSlashes(route.path, name) ? '(.+)' : '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
}

const FIXED = new Map<string, TabledRoute>(
  ENGINE_ROUTES.filter((r) => !r.path.includes('{')).map((r) => [r.key, r] as const),
);
const TEMPLATED: readonly CompiledRoute[] = ENGINE_ROUTES.filter((r) => r.path.includes('{')).map(compile);

const VERSION_PREFIX = /^\/v(\d+(?:\.\d+)*)(\/.*)$/;

/**
 * The tabled route that serves `method path`, with its parameters, or null when Skiff does not
 * serve it. `path` may carry a `/v1.NN` prefix and a query string; both are set aside.
 */
export function matchEngineRoute(method: string, path: string): EngineRouteMatch | null {
  const queryAt = path.indexOf('?');
  let rest = queryAt === -1 ? path : path.slice(0, queryAt);
  let apiVersion: string | undefined;
  const versioned = VERSION_PREFIX.exec(rest);
  if (versioned) {
    apiVersion = versioned[1];
    rest = versioned[2];
  }
  const upper = method.toUpperCase();

  const fixed = FIXED.get(`${upper} ${rest}`);
  if (fixed) return { route: fixed, params: {}, apiVersion };

  for (const candidate of TEMPLATED) {
    if (candidate.route.method !== upper) continue;
    const found = candidate.pattern.exec(rest);
    if (!found) continue;
    const params: Record<string, string> = {};
    let decodable = true;
    candidate.names.forEach((name, index) => {
      const raw = found[index + 1];
      try {
        params[name] = decodeURIComponent(raw);
      } catch {
        decodable = false;
      }
    });
    if (!decodable) return null;
    return { route: candidate.route, params, apiVersion };
  }
  return null;
}

/** The tabled route with this key; undefined for a key the table does not hold. */
export function engineRoute(key: string): (EngineRoute & { readonly key: EngineRouteKey }) | undefined {
  return ENGINE_ROUTES.find((r) => r.key === key);
}
