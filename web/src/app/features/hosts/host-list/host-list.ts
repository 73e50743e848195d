import { ChangeDetectionStrategy, Component, computed, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatTableModule } from '@angular/material/table';
import { interval, map } from 'rxjs';

import { HostsFeed } from '../hosts-feed';
import { toHostRow, type HostRow } from './host-row';

/** "Last seen 20 s ago" only needs to be roughly right; this is a local clock, not a server poll. */
const CLOCK_TICK_MS = 10_000;

@Component({
  selector: 'skiff-host-list',
  imports: [MatTableModule, MatProgressBarModule],
  templateUrl: './host-list.html',
  styleUrl: './host-list.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class HostList {
  private readonly feed = inject(HostsFeed);
  private readonly now = toSignal(interval(CLOCK_TICK_MS).pipe(map(() => Date.now())), {
    initialValue: Date.now(),
  });

  protected readonly columns = [
    'name',
    'status',
    'hostname',
    'os',
    'kernel',
    'cpus',
    'memory',
    'agentVersion',
    'lastSeen',
  ] as const;

  protected readonly loaded = this.feed.loaded;
  protected readonly rows = computed(() => {
    const now = this.now();
    return this.feed.hosts().map((host) => toHostRow(host, now));
  });
  protected readonly onlineCount = computed(() => this.rows().filter((row) => row.status === 'online').length);

  protected readonly trackById = (_index: number, row: HostRow): string => row.id;
}
