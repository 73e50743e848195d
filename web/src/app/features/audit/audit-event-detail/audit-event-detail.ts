import { DatePipe, JsonPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MAT_DIALOG_DATA, MatDialogModule } from '@angular/material/dialog';

import { formatByteSize } from '../../../shared/format/byte-size';
import type { AuditEvent } from '../audit-dtos';
import { formatDuration, sessionFacts } from '../session-facts';

export interface AuditEventDetailData {
  event: AuditEvent;
  hostName: string | null;
}

/** Every field of one audit row, the session facts of an attach or exec, and its place in the chain. */
@Component({
  selector: 'skiff-audit-event-detail',
  imports: [MatDialogModule, MatButtonModule, DatePipe, JsonPipe],
  templateUrl: './audit-event-detail.html',
  styleUrl: './audit-event-detail.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class AuditEventDetail {
  protected readonly data = inject<AuditEventDetailData>(MAT_DIALOG_DATA);
  protected readonly event = this.data.event;
  protected readonly session = sessionFacts(this.event);
  protected readonly duration = formatDuration;

  protected bytes(value: number | null): string {
    return value === null ? '—' : formatByteSize(value);
  }
}
