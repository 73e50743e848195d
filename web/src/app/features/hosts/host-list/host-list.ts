import { ChangeDetectionStrategy, Component, computed, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { MatButtonModule } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatTooltipModule } from '@angular/material/tooltip';
import { RouterLink } from '@angular/router';
import { MatTableModule } from '@angular/material/table';
import { interval, map } from 'rxjs';

import { Permissions } from '../../../core/access/permissions';
import { EnrolDialog } from '../enrol-dialog/enrol-dialog';
import { HostsFeed } from '../hosts-feed';
import { toHostRow, type HostRow } from './host-row';

/** "Last seen 20 s ago" only needs to be roughly right; this is a local clock, not a server poll. */
const CLOCK_TICK_MS = 10_000;

@Component({
  selector: 'skiff-host-list',
  imports: [MatTableModule, MatProgressBarModule, MatButtonModule, MatTooltipModule, RouterLink],
  templateUrl: './host-list.html',
  styleUrl: './host-list.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class HostList {
  private readonly feed = inject(HostsFeed);
  private readonly dialog = inject(MatDialog);
  private readonly permissions = inject(Permissions);
  /** Join tokens enrol hosts anywhere: they need host.manage everywhere. */
  protected readonly canEnrol = this.permissions.can('host.manage');
  protected readonly enrolReason = computed(() => this.permissions.reason('host.manage'));
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

  protected enrol(): void {
    this.dialog.open(EnrolDialog, { width: '640px', maxWidth: '95vw', autoFocus: 'dialog' });
  }

  protected readonly trackById = (_index: number, row: HostRow): string => row.id;
}
