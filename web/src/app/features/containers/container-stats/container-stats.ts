import {
  ChangeDetectionStrategy,
  Component,
  DestroyRef,
  computed,
  effect,
  inject,
  input,
  signal,
  untracked,
} from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import type { Subscription } from 'rxjs';

import { enginePath } from '../../../core/engine/engine-api';
import { LineSplitter } from '../../../core/engine/stdcopy';
import { errorMessage } from '../../../core/errors/error-message';
import { ConsoleSocket } from '../../../core/realtime/console-socket';
import type { ConsoleStream } from '../../../core/realtime/console-stream';
import { formatByteSize as formatBytes } from '../../../shared/format/byte-size';
import { LineChart, type ChartSeries } from './line-chart';
import { toPoint, type DockerStats, type StatsPoint, type StatsTotals } from './stats-sample';

/** Points kept per chart: a minute at Docker's one document a second. */
const KEPT_POINTS = 60;

type Status = 'connecting' | 'live' | 'ended' | 'failed';

/** Live CPU, memory, network and block I/O of a container, from the engine's stats stream. */
@Component({
  selector: 'skiff-container-stats',
  imports: [MatButtonModule, LineChart],
  templateUrl: './container-stats.html',
  styleUrl: './container-stats.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ContainerStats {
  readonly hostId = input.required<string>();
  readonly containerId = input.required<string>();
  readonly running = input(true);

  private readonly socket = inject(ConsoleSocket);

  protected readonly points = signal<readonly StatsPoint[]>([]);
  protected readonly status = signal<Status>('connecting');
  protected readonly error = signal<string | null>(null);
  protected readonly capacity = KEPT_POINTS;

  protected readonly percent = (value: number): string => `${value.toFixed(1)} %`;
  protected readonly bytes = (value: number): string => formatBytes(value);
  protected readonly rate = (value: number): string => `${formatBytes(value)}/s`;

  protected readonly cpu = computed<ChartSeries[]>(() => [
    { label: 'CPU', colour: 'var(--mat-sys-primary)', values: this.points().map((point) => point.cpuPercent) },
  ]);
  protected readonly memory = computed<ChartSeries[]>(() => [
    { label: 'Used', colour: 'var(--mat-sys-tertiary)', values: this.points().map((point) => point.memoryBytes) },
  ]);
  protected readonly memoryLimit = computed(() => this.points().at(-1)?.memoryLimit ?? 0);
  protected readonly network = computed<ChartSeries[]>(() => [
    { label: 'rx', colour: 'var(--skiff-ok)', values: this.points().map((point) => point.rxPerSecond) },
    { label: 'tx', colour: 'var(--skiff-warn)', values: this.points().map((point) => point.txPerSecond) },
  ]);
  protected readonly blockIo = computed<ChartSeries[]>(() => [
    { label: 'read', colour: 'var(--skiff-ok)', values: this.points().map((point) => point.readPerSecond) },
    { label: 'write', colour: 'var(--mat-sys-error)', values: this.points().map((point) => point.writePerSecond) },
  ]);

  private stream: ConsoleStream | undefined;
  private subscription: Subscription | undefined;

  constructor() {
    effect(() => {
      const hostId = this.hostId();
      const containerId = this.containerId();
      const running = this.running();
      untracked(() => {
        if (running) void this.watch(hostId, containerId);
        else if (this.status() !== 'failed') this.stop('ended');
      });
    });
    inject(DestroyRef).onDestroy(() => this.stop('ended'));
  }

  protected retry(): void {
    void this.watch(this.hostId(), this.containerId());
  }

  private async watch(hostId: string, containerId: string): Promise<void> {
    this.stop('connecting');
    this.points.set([]);
    this.error.set(null);
    try {
      const { head, stream } = await this.socket.openEngine({
        hostId,
        method: 'GET',
        path: enginePath(`/containers/${encodeURIComponent(containerId)}/stats?stream=1`),
      });
      if (head.status >= 400) {
        stream.close();
        throw new Error(`the host answered HTTP ${head.status}`);
      }
      this.stream = stream;
      this.status.set('live');
      const lines = new LineSplitter();
      let totals: StatsTotals | null = null;
      this.subscription = stream.received.subscribe({
        next: (chunk) => {
          const added: StatsPoint[] = [];
          for (const line of lines.push(chunk)) {
            if (!line.trim()) continue;
            try {
              const next = toPoint(JSON.parse(line) as DockerStats, totals, Date.now());
              totals = next.totals;
              added.push(next.point);
            } catch {
              // A line that is not JSON (never seen from the engine) is skipped, not fatal.
            }
          }
          if (added.length > 0) this.points.update((points) => [...points, ...added].slice(-KEPT_POINTS));
        },
        complete: () => this.status.set('ended'),
        error: (error: unknown) => {
          this.status.set('failed');
          this.error.set(errorMessage(error));
        },
      });
    } catch (error) {
      this.status.set('failed');
      this.error.set(errorMessage(error));
    }
  }

  private stop(status: Status): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.stream?.close();
    this.stream = undefined;
    this.status.set(status);
  }
}
