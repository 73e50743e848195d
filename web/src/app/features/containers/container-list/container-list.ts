import {
  ChangeDetectionStrategy,
  Component,
  DestroyRef,
  computed,
  effect,
  inject,
  signal,
  untracked,
} from '@angular/core';
import { FormsModule } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCheckboxModule } from '@angular/material/checkbox';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSelectModule } from '@angular/material/select';
import { MatTooltipModule } from '@angular/material/tooltip';
import { RouterLink } from '@angular/router';

import { Permissions } from '../../../core/access/permissions';
import { errorMessage } from '../../../core/errors/error-message';
import { ConsoleSocket } from '../../../core/realtime/console-socket';
import { CONTAINER_ACTIONS, ContainerActions, type ActionOutcome, type ContainerAction } from '../container-actions';
import {
  CONTAINER_STATES,
  FleetContainersApi,
  containerName,
  containerOfEvent,
  type FleetContainerFilters,
  type FleetContainers,
} from '../fleet-containers';

/** Typing in a filter, or a burst of events (a compose up), makes one request, not one per key or event. */
const RELOAD_DELAY_MS = 300;

interface ContainerRow {
  key: string;
  id: string;
  shortId: string;
  name: string;
  image: string;
  state: string;
  status: string;
  hostId: string;
  hostName: string;
  hostStatus: string;
  canManage: boolean;
}

@Component({
  selector: 'skiff-container-list',
  imports: [
    FormsModule,
    RouterLink,
    MatButtonModule,
    MatCheckboxModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatSelectModule,
    MatTooltipModule,
  ],
  templateUrl: './container-list.html',
  styleUrl: './container-list.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ContainerList {
  private readonly api = inject(FleetContainersApi);
  private readonly actions = inject(ContainerActions);
  private readonly socket = inject(ConsoleSocket);
  protected readonly permissions = inject(Permissions);

  protected readonly states = CONTAINER_STATES;
  protected readonly bulkActions = CONTAINER_ACTIONS;
  protected readonly filters = signal<FleetContainerFilters>({ host: '', name: '', image: '', label: '', state: '' });
  protected readonly answer = signal<FleetContainers | null>(null);
  protected readonly loading = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly selected = signal<ReadonlySet<string>>(new Set());
  protected readonly outcomes = signal<ReadonlyMap<string, ActionOutcome | 'pending'>>(new Map());
  protected readonly busy = signal(false);
  /** Hosts known from any answer, so the host filter keeps its choices while it filters. */
  private readonly knownHosts = signal<ReadonlyMap<string, string>>(new Map());

  protected readonly hostChoices = computed(() =>
    [...this.knownHosts()].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name)),
  );
  protected readonly hostCounts = computed(() => this.answer()?.hosts ?? []);
  protected readonly rows = computed<ContainerRow[]>(() =>
    (this.answer()?.containers ?? []).map((container) => ({
      key: `${container.hostId}/${container.Id}`,
      id: container.Id,
      shortId: container.Id.slice(0, 12),
      name: containerName(container.Names, container.Id),
      image: container.Image ?? '',
      state: container.State ?? 'unknown',
      status: container.Status ?? '',
      hostId: container.hostId,
      hostName: container.hostName,
      hostStatus: container.hostStatus,
      canManage: this.permissions.holds('container.manage', container.hostId),
    })),
  );
  protected readonly selectedRows = computed(() => this.rows().filter((row) => this.selected().has(row.key)));
  protected readonly allSelected = computed(
    () => this.rows().length > 0 && this.rows().every((row) => this.selected().has(row.key)),
  );
  /** The bulk actions are offered only to someone who may change at least one listed container. */
  protected readonly canManageAny = computed(() => this.rows().some((row) => row.canManage));
  protected readonly manageReason = computed(() => this.permissions.reason('container.manage'));
  protected readonly filtered = computed(() => Object.values(this.filters()).some((value) => value.trim() !== ''));

  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;

  constructor() {
    const destroyRef = inject(DestroyRef);
    // Live: container events of the fleet while the page is open; nothing polls.
    const events = this.socket.fleetEvents$().subscribe((event) => {
      if (containerOfEvent(event) !== null) this.scheduleReload();
    });
    destroyRef.onDestroy(() => {
      events.unsubscribe();
      clearTimeout(this.reloadTimer);
    });
    // First load, each filter change, and every reconnection (events may have been missed).
    effect(() => {
      this.filters();
      const live = this.socket.state() === 'live';
      untracked(() => {
        if (live || this.answer() === null) this.scheduleReload();
      });
    });
  }

  protected setFilter(key: keyof FleetContainerFilters, value: string): void {
    this.filters.update((filters) => ({ ...filters, [key]: value ?? '' }));
  }

  protected clearFilters(): void {
    this.filters.set({ host: '', name: '', image: '', label: '', state: '' });
  }

  protected toggle(row: ContainerRow, checked: boolean): void {
    this.selected.update((selected) => {
      const next = new Set(selected);
      if (checked) next.add(row.key);
      else next.delete(row.key);
      return next;
    });
  }

  protected toggleAll(checked: boolean): void {
    this.selected.set(checked ? new Set(this.rows().map((row) => row.key)) : new Set());
  }

  protected async runBulk(action: ContainerAction): Promise<void> {
    const rows = this.selectedRows();
    if (rows.length === 0) return;
    if (action === 'remove' && !confirm(`Remove ${rows.length} container(s)? This cannot be undone.`)) return;
    this.busy.set(true);
    this.outcomes.set(new Map(rows.map((row) => [row.key, 'pending' as const])));
    await Promise.all(
      rows.map(async (row) => {
        const outcome: ActionOutcome = row.canManage
          ? await this.actions.run(action, row.hostId, row.id)
          : { ok: false, message: 'not allowed: you need container.manage on this host' };
        this.outcomes.update((outcomes) => new Map(outcomes).set(row.key, outcome));
      }),
    );
    this.busy.set(false);
    this.scheduleReload();
  }

  protected outcomeOf(row: ContainerRow): ActionOutcome | 'pending' | undefined {
    return this.outcomes().get(row.key);
  }

  protected readonly trackRow = (row: ContainerRow): string => row.key;

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => void this.reload(), RELOAD_DELAY_MS);
  }

  private async reload(): Promise<void> {
    const generation = ++this.generation;
    this.loading.set(true);
    try {
      const answer = await this.api.list(this.filters());
      if (generation !== this.generation) return;
      this.answer.set(answer);
      this.error.set(null);
      this.knownHosts.update((known) => {
        const next = new Map(known);
        for (const host of answer.hosts) next.set(host.id, host.name);
        return next;
      });
      // Forget the selection of containers that are gone.
      const keys = new Set(answer.containers.map((container) => `${container.hostId}/${container.Id}`));
      this.selected.update((selected) => new Set([...selected].filter((key) => keys.has(key))));
    } catch (error) {
      if (generation === this.generation) this.error.set(errorMessage(error));
    } finally {
      if (generation === this.generation) this.loading.set(false);
    }
  }
}
