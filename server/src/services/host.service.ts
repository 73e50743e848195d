import { Injectable, Logger } from '@nestjs/common';
import {
  type AuthResponse,
  type EnrolRequest,
  type HostSummary,
  OFFLINE_AFTER_MS,
  challengePayload,
  enrolmentPayload,
  hostPressure,
} from '@skiff/protocol';
import { type KeyObject, createPublicKey, verify } from 'node:crypto';
import type { HostEntity } from '../entities/host.entity.js';
import {
  DomainError,
  conflict,
  forbidden,
  invalidArgument,
  notFound,
  unauthenticated,
} from '../errors/domain-error.js';
import { type AgentSocket, AgentLinkRepository } from '../repositories/agent-link.repository.js';
import { ConsoleFeedRepository } from '../repositories/console-feed.repository.js';
import { HostRepository } from '../repositories/host.repository.js';
import { JoinTokenRepository } from '../repositories/join-token.repository.js';
import type { Access } from './access.js';
import { AccessService } from './access.service.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { Clock } from './clock.js';
import { HostCacheService } from './host-cache.service.js';
import { parseInventory } from './host-inventory.js';
import { parseLabels } from './host-labels.js';
import { sortPermissions } from './permission-catalogue.js';
import { hashToken } from './secret-token.js';

/** How often a host's usage goes to the consoles at most, unless its pressure changes. */
export const USAGE_SHOWN_EVERY_MS = 15_000;

/** A host as the REST API shows it: the summary with its labels. */
export type HostView = HostSummary & { labels: Record<string, string> };

@Injectable()
export class HostService {
  private readonly logger = new Logger('hosts');

  constructor(
    private readonly hosts: HostRepository,
    private readonly joinTokens: JoinTokenRepository,
    private readonly links: AgentLinkRepository,
    private readonly feed: ConsoleFeedRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly access: AccessService,
    private readonly hostCache: HostCacheService,
  ) {}

  /** When each host's usage last went to the consoles, and the pressure it showed. */
  private readonly usageShown = new Map<string, { at: number; pressure: string }>();

  /** Every active host, whoever may see it (the console feed's snapshot; see listVisible). */
  async list(): Promise<HostSummary[]> {
    return (await this.hosts.listActive()).map(toSummary);
  }

  /** The active hosts the caller has host.view on. */
  async listVisible(actor: Actor): Promise<HostView[]> {
    const access = await this.access.resolve(actor);
    return (await this.hosts.listActive()).filter((host) => access.allows('host.view', host)).map(toView);
  }

  /** A host the caller may not see answers as if it did not exist. */
  async get(actor: Actor, id: string): Promise<HostView> {
    return toView(await this.visibleHost(await this.access.resolve(actor), id));
  }

  /**
   * Replaces the host's labels (host.manage on the host). Labels decide host groups, so a change
   * that would give the caller a permission on the host they do not hold now is refused.
   */
  async setLabels(actor: Actor, id: string, labels: unknown, origin: RequestOrigin): Promise<HostView> {
    const access = await this.access.resolve(actor);
    const host = await this.visibleHost(access, id);
    if (!access.allows('host.manage', host)) {
      throw forbidden(`you need the host.manage permission on host ${host.name} to change its labels`);
    }
    const parsed = parseLabels(labels);
    const before = access.permissionsOn(host);
    const gained = sortPermissions(access.permissionsOn({ id, labels: parsed })).filter((p) => !before.has(p));
    if (gained.length > 0) {
      throw forbidden(
        `these labels would give you ${gained.join(', ')} on host ${host.name} through a host group; ` +
          'ask someone who holds them to change the labels',
      );
    }
    await this.hosts.setLabels(id, parsed);
    this.hostCache.forget(id);
    await this.audit.record({ actor }, origin, {
      action: 'host.labels',
      outcome: 'success',
      target: id,
      hostId: id,
      details: { labels: parsed, previous: host.labels },
    });
    const updated = { ...host, labels: parsed };
    this.feed.hostUpdated(toView(updated));
    return toView(updated);
  }

  /** An agent presents a one-time join token and the public key it will sign with from now on. */
  async enrol(request: EnrolRequest, origin: RequestOrigin): Promise<HostEntity> {
    const publicKey = parseAgentKey(request.publicKey);
    if (!verifySignature(publicKey, enrolmentPayload(request.joinToken, request.publicKey), request.signature)) {
      throw unauthenticated('the enrolment signature does not match the public key');
    }
    const tokenHash = hashToken(request.joinToken);
    const outcome = await this.hosts.enrol(tokenHash, request.name, request.publicKey);
    if ('refused' in outcome) {
      const error =
        outcome.refused === 'key-taken'
          ? conflict('a host with this public key is already enrolled; generate a new key to enrol again')
          : await this.whyTokenUnusable(tokenHash);
      await this.audit.record({ anonymous: request.name }, origin, {
        action: 'host.enrol',
        outcome: 'denied',
        details: { reason: error.message },
      });
      throw error;
    }
    const host = outcome.enrolled;
    await this.audit.record({ agent: { hostId: host.id, name: host.name } }, origin, {
      action: 'host.enrol',
      outcome: 'success',
      target: host.id,
      hostId: host.id,
    });
    this.feed.hostUpdated(toView(host));
    return host;
  }

  /** Checks an agent's answer to this connection's challenge; on success the host is online. */
  async authenticateAgent(
    socket: AgentSocket,
    nonce: string,
    response: AuthResponse,
    origin: RequestOrigin,
  ): Promise<HostEntity> {
    if (typeof response?.hostId !== 'string' || typeof response.signature !== 'string') {
      throw invalidArgument('auth.response needs hostId and signature');
    }
    const inventory = parseInventory(response.inventory);
    const host = isUuid(response.hostId) ? await this.hosts.findById(response.hostId) : null;
    if (!host) throw unauthenticated(`unknown host: ${response.hostId}`);
    if (host.revokedAt) {
      await this.audit.record({ agent: { hostId: host.id, name: host.name } }, origin, {
        action: 'agent.connect',
        outcome: 'denied',
        hostId: host.id,
        details: { reason: 'host revoked' },
      });
      throw forbidden(`host ${host.name} was revoked on ${host.revokedAt.toISOString()}`);
    }
    const signed = verifySignature(parseAgentKey(host.publicKey), challengePayload(nonce, host.id), response.signature);
    if (!signed) {
      await this.audit.record({ agent: { hostId: host.id, name: host.name } }, origin, {
        action: 'agent.connect',
        outcome: 'denied',
        hostId: host.id,
        details: { reason: 'bad signature' },
      });
      throw unauthenticated('the challenge signature does not match the host key');
    }
    const now = this.clock.now();
    await this.hosts.markOnline(host.id, inventory, now);
    this.links.register(host.id, socket);
    const online = { ...host, status: 'online' as const, inventory, lastSeenAt: now };
    this.feed.hostUpdated(toView(online));
    return online;
  }

  async heartbeat(hostId: string, inventory: unknown): Promise<void> {
    const host = await this.hosts.findById(hostId);
    if (!host || host.revokedAt) return;
    const now = this.clock.now();
    const parsed = parseInventory(inventory);
    await this.hosts.markOnline(hostId, parsed, now);
    // Consoles see a host come online at once, its usage at most every USAGE_SHOWN_EVERY_MS, and a
    // change of pressure at once; not every heartbeat.
    const pressure = hostPressure(parsed).join(',');
    const shown = this.usageShown.get(hostId);
    const usageDue =
      parsed.usage !== undefined &&
      (!shown || shown.pressure !== pressure || now.getTime() - shown.at >= USAGE_SHOWN_EVERY_MS);
    if (host.status !== 'online' || usageDue) {
      this.usageShown.set(hostId, { at: now.getTime(), pressure });
      this.feed.hostUpdated(toView({ ...host, status: 'online', inventory: parsed, lastSeenAt: now }));
    }
  }

  async agentDisconnected(hostId: string, socket: AgentSocket): Promise<void> {
    if (!this.links.forget(hostId, socket)) return;
    this.usageShown.delete(hostId);
    await this.hosts.markOffline(hostId);
    const host = await this.hosts.findById(hostId);
    if (host && !host.revokedAt) this.feed.hostUpdated(toView(host));
  }

  /** Marks offline the hosts whose agents went silent without closing their link. */
  async sweepSilentHosts(): Promise<void> {
    const cutoff = new Date(this.clock.now().getTime() - OFFLINE_AFTER_MS);
    for (const id of await this.hosts.markSilentOffline(cutoff)) {
      const host = await this.hosts.findById(id);
      if (host) this.feed.hostUpdated(toView(host));
    }
  }

  /** Needs host.manage on the host. */
  async revoke(actor: Actor, id: string, origin: RequestOrigin): Promise<void> {
    const access = await this.access.resolve(actor);
    const host = await this.visibleHost(access, id);
    if (!access.allows('host.manage', host)) {
      throw forbidden(`you need the host.manage permission on host ${host.name} to revoke it`);
    }
    const revoked = await this.hosts.revoke(id, this.clock.now());
    this.hostCache.forget(id);
    if (!revoked) throw notFound(`no such host: ${id}`);
    this.links.cut(id, { kind: 'forbidden', message: 'this host was revoked on the server' });
    await this.audit.record({ actor }, origin, { action: 'host.revoke', outcome: 'success', target: id, hostId: id });
    this.feed.hostRemoved(id);
    this.logger.log(`host ${id} revoked by ${actor.username}`);
  }

  private async visibleHost(access: Access, id: string): Promise<HostEntity> {
    const host = isUuid(id) ? await this.hosts.findById(id) : null;
    if (!host || host.revokedAt || !access.allows('host.view', host)) throw notFound(`no such host: ${id}`);
    return host;
  }

  private async whyTokenUnusable(tokenHash: string): Promise<DomainError> {
    const token = await this.joinTokens.findByHash(tokenHash);
    if (!token) return unauthenticated('unknown join token; create a new one on the server');
    if (token.usedAt) return unauthenticated('this join token was already used; create a new one on the server');
    return unauthenticated(
      `this join token expired at ${token.expiresAt.toISOString()}; create a new one on the server`,
    );
  }
}

export function toSummary(host: HostEntity): HostSummary {
  return {
    id: host.id,
    name: host.name,
    status: host.status,
    lastSeenAt: host.lastSeenAt?.toISOString() ?? null,
    inventory: host.inventory,
    createdAt: host.createdAt.toISOString(),
  };
}

function toView(host: HostEntity): HostView {
  return { ...toSummary(host), labels: host.labels };
}

function parseAgentKey(publicKey: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw invalidArgument('publicKey must be an Ed25519 public key in SPKI DER, base64');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw invalidArgument(`publicKey must be an Ed25519 key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}

function verifySignature(key: KeyObject, payload: Buffer, signature: string): boolean {
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.length !== 64) return false;
  return verify(null, payload, key, bytes);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => UUID.test(value);
