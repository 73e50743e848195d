import { Clipboard } from '@angular/cdk/clipboard';
import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MatDialogModule } from '@angular/material/dialog';
import { MatProgressBarModule } from '@angular/material/progress-bar';

import { errorMessage } from '../../../core/errors/error-message';
import { HostsApi, type JoinToken } from '../hosts-api';

const exactTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** "Enrol a host": creates a one-time join token and shows the command that uses it. */
@Component({
  selector: 'skiff-enrol-dialog',
  imports: [MatDialogModule, MatButtonModule, MatProgressBarModule],
  template: `
    <h2 mat-dialog-title>Enrol a host</h2>
    <mat-dialog-content>
      @if (pending()) {
        <mat-progress-bar mode="indeterminate" aria-label="Creating a join token" />
      } @else if (failure(); as text) {
        <p class="dialog-error" role="alert">Could not create a join token: {{ text }}</p>
      } @else if (token(); as created) {
        <p>
          Run this on the host, as root, where the Skiff agent is installed. The token works once, until
          <time [attr.datetime]="created.expiresAt" data-testid="join-token-expiry">{{ expiry(created) }}</time>.
        </p>
        <pre class="command" data-testid="join-command" tabindex="0" aria-label="Install command">{{
          created.command
        }}</pre>
        <p class="copied" aria-live="polite">{{ copied() ? 'Copied to the clipboard.' : '' }}</p>
      }
    </mat-dialog-content>
    <mat-dialog-actions align="end">
      @if (failure()) {
        <button mat-button type="button" (click)="create()">Try again</button>
      }
      @if (token(); as created) {
        <button mat-stroked-button type="button" (click)="copy(created)" data-testid="copy-command">
          Copy command
        </button>
      }
      <button mat-flat-button type="button" mat-dialog-close cdkFocusInitial>Done</button>
    </mat-dialog-actions>
  `,
  styles: `
    .command {
      margin: 0;
      padding: 12px;
      border-radius: 8px;
      background: var(--mat-sys-surface-container-highest);
      color: var(--mat-sys-on-surface);
      font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
      font-size: 13px;
      white-space: pre-wrap;
      word-break: break-all;
    }
    .dialog-error {
      color: var(--mat-sys-error);
    }
    .copied {
      min-height: 1.5em;
      margin: 8px 0 0;
      color: var(--skiff-ok);
    }
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class EnrolDialog {
  private readonly api = inject(HostsApi);
  private readonly clipboard = inject(Clipboard);

  protected readonly pending = signal(false);
  protected readonly token = signal<JoinToken | null>(null);
  protected readonly failure = signal<string | null>(null);
  protected readonly copied = signal(false);

  constructor() {
    void this.create();
  }

  protected async create(): Promise<void> {
    this.pending.set(true);
    this.failure.set(null);
    try {
      this.token.set(await this.api.createJoinToken());
    } catch (error) {
      this.failure.set(errorMessage(error));
    } finally {
      this.pending.set(false);
    }
  }

  protected copy(token: JoinToken): void {
    this.copied.set(this.clipboard.copy(token.command));
  }

  protected expiry(token: JoinToken): string {
    return exactTime.format(new Date(token.expiresAt));
  }
}
