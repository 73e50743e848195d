import { HttpClient } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, computed, effect, inject, signal, untracked } from '@angular/core';
import { takeUntilDestroyed, toSignal } from '@angular/core/rxjs-interop';
import { MatCardModule } from '@angular/material/card';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { RouterLink } from '@angular/router';
import type { FleetEvent } from '@skiff/protocol';
import { debounceTime, filter, firstValueFrom, interval, map, tap } from 'rxjs';

import { Permissions } from '../../core/access/permissions';
import { errorMessage } from '../../core/errors/error-message';
import { ConsoleSocket } from '../../core/realtime/console-socket';
import type { AuditEvent, AuditPage } from '../audit/audit-dtos';
import {
  CONTAINER_STATES,
  FleetContainersApi,
  containerOfEvent,
  type FleetContainers,
} from '../containers/fleet-containers';
import { HostsFeed } from '../hosts/hosts-feed';
import { usageLines } from '../hosts/host-usage';
import { formatTimeAgo } from '../../shared/format/relative-time';

const RECENT_EVENTS = 20;
const RECENT_AUDIT = 10;
/** A burst of container events (a compose up) reloads the counts once. */
const RELOAD_DEBOUNCE_MS = 500;
const CLOCK_TICK_MS = 10_000;
const NO_FILTERS = { host: '', name: '', image: '', label: '', state: '' };

/** One line of the recent events feed, already in words. */
export interface RecentEvent {
  key: number;
  at: string | null;
  hostId: string;
  hostName: string;
  text: string;
}

/**
 * The landing page: what is up, what runs, what just happened. Everything is pushed (hosts over the
 * socket, container counts reloaded on the fleet's container events); nothing polls.
 */
@Component({
  selector: 'skiff-dashboard',
  imports: [MatCardModule, MatProgressBarModule, RouterLink],
  templateUrl: './dashboard.html',
  styleUrl: './dashboard.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class Dashboard {
  private readonly feed = inject(HostsFeed);
  private readonly socket = inject(ConsoleSocket);
  private readonly containersApi = inject(FleetContainersApi);
  private readonly http = inject(HttpClient);
  private readonly permissions = inject(Permissions);
  protected readonly now = toSignal(interval(CLOCK_TICK_MS).pipe(map(() => Date.now())), {
    initialValue: Date.now(),
  });

  // Hosts, live.
  protected readonly hostsLoaded = this.feed.loaded;
  protected readonly hosts = this.feed.hosts;
  protected readonly online = computed(() => this.hosts().filter((host) => host.status === 'online'));
  protected readonly offline = computed(() => this.hosts().filter((host) => host.status !== 'online'));

  // Containers by state across the fleet.
  private readonly fleet = signal<FleetContainers | null>(null);
  protected readonly containersError = signal<string | null>(null);
  protected readonly containerTotal = computed(() => this.fleet()?.containers.length ?? 0);
  protected readonly containerStates = computed(() => {
    const fleet = this.fleet();
    if (!fleet) return [];
    const counts = new Map<string, number>();
    for (const container of fleet.containers) {
      const state = container.State ?? 'unknown';
      counts.set(state, (counts.get(state) ?? 0) + 1);
    }
    const known = CONTAINER_STATES.filter((state) => counts.has(state)).map((state) => ({
      state,
      count: counts.get(state) ?? 0,
    }));
    const others = [...counts]
      .filter(([state]) => !(CONTAINER_STATES as readonly string[]).includes(state))
      .map(([state, count]) => ({ state, count }));
    return [...known, ...others];
  });
  protected readonly unreachableHosts = computed(() => this.fleet()?.hosts.filter((host) => host.error) ?? []);

  // Recent fleet events.
  protected readonly events = signal<readonly RecentEvent[]>([]);
  protected readonly eventsError = this.socket.fleetFeedError;

  // Recent audit entries, for those who may read the log.
  protected readonly canViewAudit = this.permissions.can('audit.view');
  protected readonly permissionsLoaded = this.permissions.loaded;
  protected readonly audit = signal<readonly AuditEvent[] | null>(null);
  protected readonly auditError = signal<string | null>(null);

  // Hosts short of memory or disk, by their agents' heartbeats (pushed with the hosts).
  protected readonly reportingUsage = computed(() => this.online().filter((host) => host.inventory?.usage));
  protected readonly underPressure = computed(() =>
    this.reportingUsage()
      .map((host) => ({ host, lines: usageLines(host.inventory).filter((line) => line.pressure) }))
      .filter((entry) => entry.lines.length > 0),
  );

  constructor() {
    let nextKey = 0;
    this.socket
      .fleetEvents$()
      .pipe(
        tap((event) => {
          const key = nextKey++;
          this.events.update((events) => [toRecentEvent(event, key), ...events].slice(0, RECENT_EVENTS));
        }),
        filter((event) => containerOfEvent(event) !== null),
        debounceTime(RELOAD_DEBOUNCE_MS),
        takeUntilDestroyed(),
      )
      .subscribe(() => void this.loadContainers());

    // Loaded on arrival and again after each reconnection (events missed meanwhile are not replayed).
    effect(() => {
      if (this.socket.state() === 'live') untracked(() => void this.loadContainers());
    });
    effect(() => {
      if (this.canViewAudit()) untracked(() => void this.loadAudit());
    });
  }

  protected ago(at: string | null): string {
    return at ? formatTimeAgo(at, this.now()) : '';
  }

  private async loadContainers(): Promise<void> {
    try {
      this.fleet.set(await this.containersApi.list(NO_FILTERS));
      this.containersError.set(null);
    } catch (error) {
      this.containersError.set(errorMessage(error));
    }
  }

  private async loadAudit(): Promise<void> {
    try {
      const page = await firstValueFrom(
        this.http.get<AuditPage>('/api/audit', { params: { limit: String(RECENT_AUDIT) } }),
      );
      this.audit.set(page.items);
      this.auditError.set(null);
    } catch (error) {
      this.auditError.set(errorMessage(error));
    }
  }
}

function toRecentEvent(fleetEvent: FleetEvent, key: number): RecentEvent {
  const body = fleetEvent.event as {
    Type?: unknown;
    Action?: unknown;
    status?: unknown;
    time?: unknown;
    timeNano?: unknown;
    Actor?: { ID?: unknown; Attributes?: Record<string, unknown> };
  };
  const type = typeof body.Type === 'string' ? body.Type : 'event';
  const action = typeof body.Action === 'string' ? body.Action : typeof body.status === 'string' ? body.status : '';
  const attributes = body.Actor?.Attributes ?? {};
  const id = typeof body.Actor?.ID === 'string' ? body.Actor.ID : '';
  const name = typeof attributes['name'] === 'string' ? attributes['name'] : id.slice(0, 12);
  const seconds = typeof body.time === 'number' ? body.time : null;
  return {
    key,
    at: seconds === null ? null : new Date(seconds * 1000).toISOString(),
    hostId: fleetEvent.hostId,
    hostName: fleetEvent.hostName,
    text: [type, name, action].filter(Boolean).join(' '),
  };
}
