import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { FleetEvent, Permission } from '@skiff/protocol';
import type { LinkStream } from '@skiff/protocol/link-stream';
import type { Actor } from './actor.js';
import type { Access } from './access.js';
import { AccessService } from './access.service.js';
import { streamFailure } from './engine-call-pipe.js';
import { EngineProxyService, type ProxiedHost } from './engine-proxy.service.js';

/** A container as the fleet view lists it: Docker's summary plus where it runs. */
export interface FleetContainer extends Record<string, unknown> {
  hostId: string;
  hostName: string;
  hostStatus: string;
}

export interface FleetHostCount {
  id: string;
  name: string;
  status: string;
  /** Containers by state (`running`, `exited`, …) and in all. */
  counts: Record<string, number> & { total: number };
  /** Why the host's containers are missing from the list, when they are. */
  error?: string;
}

export interface FleetContainerFilters {
  host?: string;
  name?: string;
  image?: string;
  /** `key` or `key=value`. */
  label?: string[];
  state?: string;
}

interface DockerContainerSummary {
  Id?: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Labels?: Record<string, string> | null;
}

/** The permission each Docker event type needs to be seen. */
const EVENT_TYPE_PERMISSION: Readonly<Record<string, Permission>> = {
  container: 'container.view',
  image: 'image.view',
  volume: 'volume.view',
  network: 'network.view',
};

type FleetEventListener = (event: FleetEvent) => void;

interface Subscriber {
  actor: Actor;
  access: Access;
  listener: FleetEventListener;
}

/** How often the fleet event feed looks for hosts that came online. */
const FEED_SWEEP_MS = 2_000;

/**
 * The fleet-wide views: every container the caller may see on every host, with counts per host,
 * and one feed of the Docker events of all visible hosts (one stream per host from its agent,
 * shared by every subscriber, each of whom sees only what their permissions show).
 */
@Injectable()
export class FleetService implements OnModuleDestroy {
  private readonly logger = new Logger('fleet');
  private readonly subscribers = new Set<Subscriber>();
  private readonly feeds = new Map<string, LinkStream>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly proxy: EngineProxyService,
    private readonly accessService: AccessService,
  ) {}

  async containers(
    actor: Actor,
    filters: FleetContainerFilters,
  ): Promise<{ containers: FleetContainer[]; hosts: FleetHostCount[] }> {
    const hosts = (await this.proxy.hostsWith(actor, 'container.view')).filter(
      (host) => filters.host === undefined || host.id === filters.host || host.name === filters.host,
    );
    const perHost = await Promise.all(
      hosts.map(async (host) => {
        const count: FleetHostCount = { id: host.id, name: host.name, status: host.status, counts: { total: 0 } };
        if (!host.connected) {
          count.error = `host ${host.name} is not connected`;
          return { count, containers: [] as FleetContainer[] };
        }
        try {
          const listed = await this.proxy.internalJson<DockerContainerSummary[]>(
            host.id,
            'GET',
            '/containers/json?all=1',
          );
          for (const container of listed) {
            const state = container.State ?? 'unknown';
            count.counts[state] = (count.counts[state] ?? 0) + 1;
            count.counts.total += 1;
          }
          const containers = listed
            .filter((container) => matches(container, filters))
            .map((container) => ({ ...container, hostId: host.id, hostName: host.name, hostStatus: host.status }));
          return { count, containers };
        } catch (error) {
          count.error = streamFailure(error);
          return { count, containers: [] as FleetContainer[] };
        }
      }),
    );
    return { containers: perHost.flatMap((entry) => entry.containers), hosts: perHost.map((entry) => entry.count) };
  }

  /** Starts delivering the events of every host the actor may see; returns how to stop. */
  async subscribe(actor: Actor, listener: FleetEventListener): Promise<() => void> {
    const subscriber: Subscriber = { actor, access: await this.accessService.resolve(actor), listener };
    this.subscribers.add(subscriber);
    await this.sweep();
    this.sweepTimer ??= setInterval(() => {
      this.sweep().catch((error: unknown) => this.logger.warn(`fleet events: ${streamFailure(error)}`));
    }, FEED_SWEEP_MS);
    return () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0) this.stopFeeds();
    };
  }

  onModuleDestroy(): void {
    this.subscribers.clear();
    this.stopFeeds();
  }

  /** Opens the event stream of every connected host that has none yet. */
  private async sweep(): Promise<void> {
    if (this.subscribers.size === 0) return;
    // Grants change while a feed is open: each subscriber's access is read again on every sweep.
    for (const subscriber of this.subscribers) subscriber.access = await this.accessService.resolve(subscriber.actor);
    const hosts = await this.proxy.connectedHosts();
    for (const host of hosts) {
      if (this.feeds.has(host.id)) continue;
      try {
        this.feeds.set(host.id, this.openFeed(host));
      } catch (error) {
        this.logger.debug(`events of host ${host.name}: ${streamFailure(error)}`);
      }
    }
  }

  private openFeed(host: ProxiedHost): LinkStream {
    const { stream, head } = this.proxy.openInternal(host.id, 'GET', '/events');
    head.catch(() => stream.destroy());
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) this.deliver(host, line);
    });
    stream.once('close', () => {
      if (this.feeds.get(host.id) === stream) this.feeds.delete(host.id);
    });
    stream.on('error', (error) => this.logger.debug(`events of host ${host.name}: ${error.message}`));
    return stream;
  }

  private deliver(host: ProxiedHost, line: string): void {
    if (line.trim() === '') return;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const permission = EVENT_TYPE_PERMISSION[String(event.Type)] ?? 'host.view';
    for (const { access, listener } of this.subscribers) {
      if (access.allows('host.view', host) && access.allows(permission, host)) {
        listener({ hostId: host.id, hostName: host.name, event });
      }
    }
  }

  private stopFeeds(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const stream of this.feeds.values()) stream.destroy();
    this.feeds.clear();
  }
}

function matches(container: DockerContainerSummary, filters: FleetContainerFilters): boolean {
  if (filters.state !== undefined && container.State !== filters.state) return false;
  if (filters.name !== undefined) {
    const wanted = filters.name.toLowerCase();
    const names = (container.Names ?? []).map((name) => name.replace(/^\//, '').toLowerCase());
    if (!names.some((name) => name.includes(wanted)) && !(container.Id ?? '').startsWith(wanted)) return false;
  }
  if (filters.image !== undefined && !(container.Image ?? '').toLowerCase().includes(filters.image.toLowerCase())) {
    return false;
  }
  for (const label of filters.label ?? []) {
    const at = label.indexOf('=');
    const labels = container.Labels ?? {};
    if (at === -1 ? !(label in labels) : labels[label.slice(0, at)] !== label.slice(at + 1)) return false;
  }
  return true;
}
