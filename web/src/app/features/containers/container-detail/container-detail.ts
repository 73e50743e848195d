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
import { toSignal } from '@angular/core/rxjs-interop';
import { MatButtonModule } from '@angular/material/button';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatTabsModule } from '@angular/material/tabs';
import { MatTooltipModule } from '@angular/material/tooltip';
import { ActivatedRoute, Router, RouterLink } from '@angular/router';

import { Permissions } from '../../../core/access/permissions';
import { EngineApi } from '../../../core/engine/engine-api';
import { ConsoleSocket } from '../../../core/realtime/console-socket';
import { HostsFeed } from '../../hosts/hosts-feed';
import { CONTAINER_ACTIONS, ContainerActions, type ContainerAction } from '../container-actions';
import { ContainerInspectView } from '../container-inspect/container-inspect-view';
import { inspectName, type ContainerInspect } from '../container-inspect';
import { ContainerLogs } from '../container-logs/container-logs';
import { ContainerStats } from '../container-stats/container-stats';
import { ContainerTerminal } from '../container-terminal/container-terminal';
import { containerOfEvent } from '../fleet-containers';

/** One container: its state and actions, and tabs for logs, a terminal, stats and inspect output. */
@Component({
  selector: 'skiff-container-detail',
  imports: [
    RouterLink,
    MatButtonModule,
    MatProgressBarModule,
    MatTabsModule,
    MatTooltipModule,
    ContainerLogs,
    ContainerTerminal,
    ContainerStats,
    ContainerInspectView,
  ],
  templateUrl: './container-detail.html',
  styleUrl: './container-detail.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ContainerDetail {
  private readonly params = toSignal(inject(ActivatedRoute).paramMap, { requireSync: true });
  protected readonly hostId = computed(() => this.params().get('hostId') ?? '');
  protected readonly id = computed(() => this.params().get('id') ?? '');

  private readonly engine = inject(EngineApi);
  private readonly actions = inject(ContainerActions);
  private readonly router = inject(Router);
  private readonly hosts = inject(HostsFeed);
  private readonly socket = inject(ConsoleSocket);
  protected readonly permissions = inject(Permissions);

  protected readonly inspect = signal<ContainerInspect | null>(null);
  protected readonly error = signal<string | null>(null);
  protected readonly busy = signal<ContainerAction | null>(null);
  protected readonly actionMessage = signal<{ ok: boolean; text: string } | null>(null);

  protected readonly name = computed(() => {
    const inspect = this.inspect();
    return inspect ? inspectName(inspect) : this.id().slice(0, 12);
  });
  protected readonly state = computed(() => this.inspect()?.State?.Status ?? 'unknown');
  protected readonly running = computed(() => this.inspect()?.State?.Running === true);
  protected readonly hostName = computed(
    () => this.hosts.hosts().find((host) => host.id === this.hostId())?.name ?? this.hostId(),
  );
  protected readonly canManage = computed(() => this.permissions.holds('container.manage', this.hostId()));
  protected readonly canExec = computed(() => this.permissions.holds('container.exec', this.hostId()));
  protected readonly canLogs = computed(() => this.permissions.holds('container.logs', this.hostId()));
  protected readonly manageReason = computed(() => this.permissions.reason('container.manage', this.hostId()));
  protected readonly actionList = computed(() =>
    CONTAINER_ACTIONS.filter(({ action }) => {
      switch (action) {
        case 'start':
          return !this.running();
        case 'stop':
        case 'restart':
          return this.running();
        case 'remove':
          return true;
      }
    }),
  );

  private reloadTimer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    effect(() => {
      this.hostId();
      this.id();
      untracked(() => {
        this.inspect.set(null);
        void this.load();
      });
    });
    // The header follows the container's events (started elsewhere, died, …).
    const events = this.socket.fleetEvents$().subscribe((event) => {
      const id = containerOfEvent(event);
      if (event.hostId !== this.hostId() || id === null) return;
      if (id === '' || id.startsWith(this.id()) || id === this.inspect()?.Id) {
        clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => void this.load(), 200);
      }
    });
    inject(DestroyRef).onDestroy(() => {
      events.unsubscribe();
      clearTimeout(this.reloadTimer);
    });
  }

  protected async load(): Promise<void> {
    try {
      this.inspect.set(
        await this.engine.get<ContainerInspect>(this.hostId(), `/containers/${encodeURIComponent(this.id())}/json`),
      );
      this.error.set(null);
    } catch (error) {
      this.error.set(error instanceof Error ? error.message : String(error));
    }
  }

  protected async run(action: ContainerAction): Promise<void> {
    if (action === 'remove' && !confirm(`Remove container ${this.name()}? This cannot be undone.`)) return;
    this.busy.set(action);
    this.actionMessage.set(null);
    const outcome = await this.actions.run(action, this.hostId(), this.inspect()?.Id ?? this.id());
    this.busy.set(null);
    this.actionMessage.set({ ok: outcome.ok, text: `${this.name()}: ${outcome.message}` });
    if (outcome.ok && action === 'remove') {
      await this.router.navigate(['/containers']);
      return;
    }
    await this.load();
  }
}
