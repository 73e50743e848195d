import { Injectable } from '@nestjs/common';
import { type EngineCallHead, type EngineRouteMatch, type Permission, matchEngineRoute } from '@skiff/protocol';
import { type LinkStream, StreamResetError } from '@skiff/protocol/link-stream';
import { DomainError, forbidden, notFound } from '../errors/domain-error.js';
import { AgentLinkRepository, type OpenEngineCall } from '../repositories/agent-link.repository.js';
import { HostRepository } from '../repositories/host.repository.js';
import type { Access } from './access.js';
import { AccessService } from './access.service.js';
import type { Actor, RequestOrigin } from './actor.js';
import { summariseBody } from './audit-summary.js';
import { type AuditSession, AuditService } from './audit.service.js';
import { privilegedReasons } from './engine-privilege.js';
import { HostCacheService } from './host-cache.service.js';

/** Who makes a proxied call, and from where. */
export interface ProxyCaller {
  actor: Actor;
  origin: RequestOrigin;
}

export interface ProxiedHost {
  id: string;
  name: string;
  labels: Record<string, string>;
}

/** A call the caller may make: the route it matched, the host, and what the audit record needs. */
export interface AuthorisedCall {
  caller: ProxyCaller;
  host: ProxiedHost;
  match: EngineRouteMatch;
  /** The Engine API path with its query, as the agent is asked for it. */
  path: string;
  query: URLSearchParams;
  access: Access;
  startedAt: number;
  /** The request body, summarised with secrets redacted, for the audit record. */
  bodySummary: unknown;
}

/** How a proxied call ended, for its audit record. */
export interface CallOutcome {
  status: number;
  /** The engine's error message, for a failed call. */
  error?: string | null;
  /** The object the call made, when the path does not name it (a create's new id). */
  createdId?: string | null;
  /** An attach or exec session: when it ran, the bytes each way, the exit code. */
  session?: AuditSession;
}

/** Which event types a caller may see, by the permission that shows their objects. */
const EVENT_PERMISSIONS: Readonly<Record<string, Permission>> = {
  container: 'container.view',
  image: 'image.view',
  volume: 'volume.view',
  network: 'network.view',
};

/** The sections of `GET /system/df`, by the permission that shows them. */
const DF_PERMISSIONS: Readonly<Record<string, Permission>> = {
  Containers: 'container.view',
  Images: 'image.view',
  Volumes: 'volume.view',
  BuildCache: 'image.view',
};

/**
 * The engine proxy's rules: which caller may make which Engine API call on which host (from the
 * route table, plus `container.privileged` for bodies that reach into the host), what the
 * caller may see of a list, and the audit record of every call that changes something or is
 * refused. The bytes themselves travel through the agent link repository.
 */
@Injectable()
export class EngineProxyService {
  constructor(
    private readonly links: AgentLinkRepository,
    private readonly hosts: HostRepository,
    private readonly accessService: AccessService,
    private readonly audit: AuditService,
    private readonly hostCache: HostCacheService,
  ) {}

  /**
   * Decides whether the caller may make `method enginePath` on the host with `body` (the parsed
   * JSON body, or undefined). A refusal is audited and thrown: 404 for a host the caller may not
   * see, 403 for a route outside the table, a missing permission, or a privileged body.
   */
  async authorise(
    caller: ProxyCaller,
    hostId: string,
    method: string,
    enginePath: string,
    body: unknown,
  ): Promise<AuthorisedCall> {
    const startedAt = Date.now();
    const access = await this.accessService.resolve(caller.actor);
    const host = await this.visibleHost(access, hostId);
    if (!host) {
      await this.recordDenial(caller, hostId, 'engine.call', method, enginePath, `no such host: ${hostId}`, 404);
      throw notFound(`no such host: ${hostId}`);
    }
    const match = matchEngineRoute(method, enginePath);
    if (!match) {
      const message = `${method.toUpperCase()} ${pathOnly(enginePath)} is not an Engine API route Skiff forwards`;
      await this.recordDenial(caller, host.id, 'engine.unknown-route', method, enginePath, message, 403);
      throw forbidden(message);
    }
    const action = match.route.audit ?? `engine.${match.route.key}`;
    const { permission } = match.route;
    if (!access.allows(permission, host)) {
      const message = `you need the ${permission} permission on host ${host.name} to ${match.route.key}`;
      await this.recordDenial(caller, host.id, action, method, enginePath, message, 403, match);
      throw forbidden(message);
    }
    const query = new URLSearchParams(queryOf(enginePath));
    const reasons = privilegedReasons(match.route.key, body, query);
    if (reasons.length > 0 && !access.allows('container.privileged', host)) {
      const message = `you need the container.privileged permission on host ${host.name} for ${reasons.join(', ')}`;
      await this.recordDenial(caller, host.id, action, method, enginePath, message, 403, match, body);
      throw forbidden(message);
    }
    return {
      caller,
      host,
      match,
      path: enginePath,
      query,
      access,
      startedAt,
      bodySummary: body === undefined ? undefined : summariseBody(body),
    };
  }

  /** Starts an authorised call on the host's agent (see AgentLinkRepository.openCall). */
  open(
    call: AuthorisedCall,
    options: { headers: Record<string, string>; body: boolean; upgrade: boolean },
  ): OpenEngineCall {
    return this.links.openCall(call.host.id, {
      method: call.match.route.method,
      path: call.path,
      headers: options.headers,
      body: options.body,
      upgrade: options.upgrade,
    });
  }

  /**
   * Makes a call on behalf of the server itself (fleet views, exit codes for the audit) and
   * returns its JSON answer; nothing is audited. Fails when the answer is not 2xx.
   */
  async internalJson<T>(hostId: string, method: string, path: string, timeoutMs = 5_000): Promise<T> {
    const { stream, head } = this.links.openCall(hostId, { method, path, headers: {}, body: false, upgrade: false });
    stream.end();
    const timer = setTimeout(() => stream.destroy(), timeoutMs);
    try {
      const [answer, text] = await Promise.all([head, readText(stream, 32 * 1024 * 1024)]);
      if (answer.status < 200 || answer.status >= 300) {
        throw new DomainError(
          'unavailable',
          `${method} ${path} on host ${hostId}: ${engineMessage(text, answer.status)}`,
        );
      }
      return JSON.parse(text) as T;
    } catch (error) {
      if (error instanceof DomainError) throw error;
      if (error instanceof StreamResetError) throw new DomainError(error.kind, error.message);
      throw new DomainError('unavailable', `host ${hostId} did not answer ${method} ${path} in time`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes the audit record of a finished call that changes something; calls that only read leave none. */
  async complete(call: AuthorisedCall, outcome: CallOutcome): Promise<void> {
    const action = call.match.route.audit;
    if (action === null) return;
    const success = outcome.status >= 100 && outcome.status < 400;
    const record = {
      action,
      outcome: success ? ('success' as const) : ('failure' as const),
      hostId: call.host.id,
      target: targetOf(call.match, call.query, outcome.createdId),
      status: outcome.status,
      error: success ? null : (outcome.error ?? null),
      details: {
        host: call.host.name,
        route: call.match.route.key,
        query: summariseBody(Object.fromEntries(call.query)),
        ...(call.bodySummary === undefined ? {} : { body: call.bodySummary }),
      },
    };
    const who = { actor: call.caller.actor };
    if (outcome.session) {
      // A failed session still says why, next to its bytes and exit code.
      await this.audit.recordSession(who, call.caller.origin, {
        ...record,
        error: outcome.error ?? null,
        session: outcome.session,
      });
      return;
    }
    await this.audit.record(who, call.caller.origin, { ...record, durationMs: Date.now() - call.startedAt });
  }

  /**
   * What the caller may see of a list the route answers, as a filter for its JSON documents, or
   * null when they see it all. `/events` keeps the events of object types the caller may view;
   * `/system/df` drops the sections they may not.
   */
  listFilter(call: AuthorisedCall): ((document: unknown) => unknown) | null {
    const { access, host } = call;
    switch (call.match.route.key) {
      case 'GET /events': {
        const hidden = Object.entries(EVENT_PERMISSIONS).filter(([, permission]) => !access.allows(permission, host));
        if (hidden.length === 0) return null;
        const hiddenTypes = new Set(hidden.map(([type]) => type));
        return (event) => (hiddenTypes.has(String((event as { Type?: unknown }).Type)) ? undefined : event);
      }
      case 'GET /system/df': {
        const hidden = Object.entries(DF_PERMISSIONS).filter(([, permission]) => !access.allows(permission, host));
        if (hidden.length === 0) return null;
        return (usage) => {
          const copy = { ...(usage as Record<string, unknown>) };
          for (const [section] of hidden) copy[section] = [];
          return copy;
        };
      }
      default:
        return null;
    }
  }

  /** Starts a call for the server itself (the fleet event feed); nothing is audited. */
  openInternal(hostId: string, method: string, path: string): OpenEngineCall {
    const call = this.links.openCall(hostId, { method, path, headers: {}, body: false, upgrade: false });
    call.stream.end();
    return call;
  }

  /** Every active host whose agent is connected to this replica. */
  async connectedHosts(): Promise<ProxiedHost[]> {
    return (await this.hosts.listActive())
      .filter((host) => this.links.isConnected(host.id))
      .map((host) => ({ id: host.id, name: host.name, labels: host.labels }));
  }

  /** The hosts the caller may see containers on, for the fleet views. */
  async hostsWith(
    actor: Actor,
    permission: Permission,
  ): Promise<Array<ProxiedHost & { status: string; connected: boolean }>> {
    const access = await this.accessService.resolve(actor);
    const hosts = await this.hosts.listActive();
    return hosts
      .filter((host) => access.allows('host.view', host) && access.allows(permission, host))
      .map((host) => ({
        id: host.id,
        name: host.name,
        labels: host.labels,
        status: host.status,
        connected: this.links.isConnected(host.id),
      }));
  }

  private async visibleHost(access: Access, hostId: string): Promise<ProxiedHost | null> {
    if (!UUID.test(hostId)) return null;
    const host = await this.hostCache.find(hostId);
    if (!host || host.revokedAt) return null;
    if (!access.allows('host.view', host)) return null;
    return { id: host.id, name: host.name, labels: host.labels };
  }

  private async recordDenial(
    caller: ProxyCaller,
    hostId: string,
    action: string,
    method: string,
    enginePath: string,
    message: string,
    status: number,
    match?: EngineRouteMatch,
    body?: unknown,
  ): Promise<void> {
    await this.audit.record({ actor: caller.actor }, caller.origin, {
      action,
      outcome: 'denied',
      hostId: UUID.test(hostId) ? hostId : null,
      target: match ? targetOf(match, new URLSearchParams(queryOf(enginePath)), null) : pathOnly(enginePath),
      status,
      error: message,
      durationMs: 0,
      details: {
        route: match?.route.key ?? `${method.toUpperCase()} ${pathOnly(enginePath)}`,
        ...(body === undefined ? {} : { body: summariseBody(body) }),
      },
    });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function pathOnly(path: string): string {
  const at = path.indexOf('?');
  return at === -1 ? path : path.slice(0, at);
}

function queryOf(path: string): string {
  const at = path.indexOf('?');
  return at === -1 ? '' : path.slice(at + 1);
}

/** The object a call is about: its path parameter, else what the query or the answer names. */
function targetOf(
  match: EngineRouteMatch,
  query: URLSearchParams,
  createdId: string | null | undefined,
): string | null {
  const param = match.params.id ?? match.params.name;
  if (param !== undefined) return param;
  if (createdId) return createdId;
  return query.get('name') ?? query.get('fromImage') ?? query.get('t') ?? null;
}

/** The `message` of an engine's error answer, else its start. */
export function engineMessage(text: string, status: number): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  } catch {
    // not JSON: fall through
  }
  return text.slice(0, 200) || `status ${status}`;
}

/** Reads a stream to its end as text, refusing more than `limit` bytes. */
export function readText(stream: LinkStream, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stream.destroy(new Error(`the answer is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.once('error', reject);
    stream.once('close', () => reject(new Error('the stream closed before its end')));
  });
}

export type { EngineCallHead };
