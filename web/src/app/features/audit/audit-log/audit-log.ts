import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { NonNullableFormBuilder, ReactiveFormsModule } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatButtonToggleModule } from '@angular/material/button-toggle';
import { MatDialog } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSelectModule } from '@angular/material/select';
import { MatTableModule } from '@angular/material/table';

import { errorMessage } from '../../../core/errors/error-message';
import { formatByteSize } from '../../../shared/format/byte-size';
import { HostsFeed } from '../../hosts/hosts-feed';
import { AuditApi } from '../audit-api';
import { AUDIT_OUTCOMES, type AuditEvent, type AuditExportFormat, type AuditVerification } from '../audit-dtos';
import { AuditEventDetail, type AuditEventDetailData } from '../audit-event-detail/audit-event-detail';
import {
  type AuditFilterForm,
  auditQueryParams,
  EMPTY_AUDIT_FILTERS,
  SESSION_ACTIONS,
  type SessionAction,
  toInstant,
} from '../audit-query';
import { formatDuration, sessionFacts } from '../session-facts';

type View = 'events' | 'sessions';

interface AuditRow {
  event: AuditEvent;
  actor: string;
  host: string;
  duration: string;
  bytesIn: string;
  bytesOut: string;
  exitCode: string;
}

const EVENT_COLUMNS = ['at', 'actor', 'action', 'outcome', 'host', 'target', 'details'] as const;
const SESSION_COLUMNS = [
  'at',
  'actor',
  'action',
  'host',
  'target',
  'duration',
  'bytesIn',
  'bytesOut',
  'exitCode',
  'details',
] as const;

@Component({
  selector: 'skiff-audit-log',
  imports: [
    DatePipe,
    ReactiveFormsModule,
    MatButtonModule,
    MatButtonToggleModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatSelectModule,
    MatTableModule,
  ],
  templateUrl: './audit-log.html',
  styleUrl: './audit-log.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class AuditLog {
  private readonly api = inject(AuditApi);
  private readonly dialog = inject(MatDialog);
  private readonly hostsFeed = inject(HostsFeed);

  protected readonly outcomes = AUDIT_OUTCOMES;
  protected readonly sessionActions = SESSION_ACTIONS;
  protected readonly hosts = this.hostsFeed.hosts;

  /** null while asking the server. */
  protected readonly canView = signal<boolean | null>(null);
  protected readonly canExport = signal(false);
  protected readonly permissionError = signal<string | null>(null);

  protected readonly view = signal<View>('events');
  protected readonly columns = computed(() => (this.view() === 'sessions' ? SESSION_COLUMNS : EVENT_COLUMNS));
  protected readonly filterForm = inject(NonNullableFormBuilder).group({
    ...EMPTY_AUDIT_FILTERS,
    sessionAction: 'exec.start' as SessionAction,
  });
  protected readonly filterError = signal<string | null>(null);
  /** The filters of the rows on screen; "Load more" and the exports use these, not the unsaved form. */
  private readonly applied = signal<Record<string, string>>({});

  private readonly events = signal<AuditEvent[]>([]);
  protected readonly nextCursor = signal<string | null>(null);
  protected readonly loading = signal(false);
  protected readonly loaded = signal(false);
  protected readonly loadError = signal<string | null>(null);
  protected readonly rows = computed(() => {
    const names = new Map(this.hosts().map((host) => [host.id, host.name]));
    return this.events().map((event) => toRow(event, names));
  });

  protected readonly verification = signal<AuditVerification | null>(null);
  protected readonly verifying = signal(false);
  protected readonly verifyError = signal<string | null>(null);

  protected readonly trackById = (_index: number, row: AuditRow): string => row.event.id;

  constructor() {
    void this.start();
  }

  private async start(): Promise<void> {
    try {
      const global = await this.api.globalPermissions();
      this.canView.set(global.includes('audit.view'));
      this.canExport.set(global.includes('audit.export'));
    } catch (error) {
      this.permissionError.set(errorMessage(error));
      return;
    }
    if (this.canView()) {
      await Promise.all([this.search(), this.verify()]);
    }
  }

  protected async retryStart(): Promise<void> {
    this.permissionError.set(null);
    await this.start();
  }

  protected async setView(view: View): Promise<void> {
    this.view.set(view);
    await this.search();
  }

  protected async search(): Promise<void> {
    const value = this.filterForm.getRawValue();
    const problem = filterProblem(value);
    this.filterError.set(problem);
    if (problem) {
      return;
    }
    const filters: AuditFilterForm = this.view() === 'sessions' ? { ...value, action: value.sessionAction } : value;
    this.applied.set(auditQueryParams(filters));
    this.events.set([]);
    this.nextCursor.set(null);
    this.loaded.set(false);
    await this.loadPage(null);
  }

  protected async clearFilters(): Promise<void> {
    this.filterForm.reset();
    await this.search();
  }

  protected async loadMore(): Promise<void> {
    const cursor = this.nextCursor();
    if (cursor) {
      await this.loadPage(cursor);
    }
  }

  protected async verify(): Promise<void> {
    this.verifying.set(true);
    this.verifyError.set(null);
    try {
      this.verification.set(await this.api.verify());
    } catch (error) {
      this.verifyError.set(errorMessage(error));
    } finally {
      this.verifying.set(false);
    }
  }

  protected exportUrl(format: AuditExportFormat): string {
    return this.api.exportUrl(format, this.applied());
  }

  protected openDetail(row: AuditRow): void {
    this.dialog.open<AuditEventDetail, AuditEventDetailData>(AuditEventDetail, {
      data: { event: row.event, hostName: row.host === '—' ? null : row.host },
      width: '760px',
      maxWidth: '95vw',
      ariaLabel: `Audit row ${row.event.id}: ${row.event.action}`,
    });
  }

  private async loadPage(cursor: string | null): Promise<void> {
    this.loading.set(true);
    this.loadError.set(null);
    try {
      const page = await this.api.search(this.applied(), cursor);
      this.events.update((rows) => (cursor ? [...rows, ...page.items] : page.items));
      this.nextCursor.set(page.nextCursor);
      this.loaded.set(true);
    } catch (error) {
      this.loadError.set(errorMessage(error));
    } finally {
      this.loading.set(false);
    }
  }
}

function filterProblem(value: AuditFilterForm): string | null {
  const from = value.from ? toInstant(value.from) : null;
  const to = value.to ? toInstant(value.to) : null;
  if (value.from && !from) {
    return 'The "From" time is not a date: pick one or clear the field.';
  }
  if (value.to && !to) {
    return 'The "To" time is not a date: pick one or clear the field.';
  }
  if (from && to && from >= to) {
    return '"From" must be before "To".';
  }
  return null;
}

function toRow(event: AuditEvent, hostNames: ReadonlyMap<string, string>): AuditRow {
  const session = sessionFacts(event);
  const bytes = (value: number | null | undefined) =>
    value === null || value === undefined ? '—' : formatByteSize(value);
  return {
    event,
    actor: event.actorName ?? event.actorId ?? event.actorType,
    host: event.hostId ? (hostNames.get(event.hostId) ?? event.hostId) : '—',
    duration: formatDuration(session?.durationMs ?? event.durationMs),
    bytesIn: bytes(session?.bytesIn),
    bytesOut: bytes(session?.bytesOut),
    exitCode: session?.exitCode === null || session?.exitCode === undefined ? '—' : String(session.exitCode),
  };
}
