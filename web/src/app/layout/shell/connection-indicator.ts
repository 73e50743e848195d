import { ChangeDetectionStrategy, Component, computed, inject } from '@angular/core';

import { ConsoleSocket, type ConnectionState } from '../../core/realtime/console-socket';

const LABELS: Record<ConnectionState, string> = {
  idle: 'Offline',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
};

/** Whether the lists on screen are being kept current. */
@Component({
  selector: 'skiff-connection-indicator',
  template: `<span class="dot" aria-hidden="true"></span><span class="label">{{ label() }}</span>`,
  styles: `
    :host {
      display: inline-flex;
      align-items: center;
      gap: 6px;
      padding: 2px 10px;
      border-radius: 999px;
      font: var(--mat-sys-label-medium);
      background: var(--skiff-warn-container);
      color: var(--skiff-warn);
    }
    :host([data-state='live']) {
      background: var(--skiff-ok-container);
      color: var(--skiff-ok);
    }
    .dot {
      width: 8px;
      height: 8px;
      border-radius: 50%;
      background: currentColor;
    }
  `,
  host: {
    role: 'status',
    '[attr.data-state]': 'state()',
    '[attr.title]': 'title()',
  },
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ConnectionIndicator {
  protected readonly state = inject(ConsoleSocket).state;
  protected readonly label = computed(() => LABELS[this.state()]);
  protected readonly title = computed(() =>
    this.state() === 'live' ? 'Receiving live updates from the server' : 'Not receiving live updates; retrying',
  );
}
