import { HttpClient } from '@angular/common/http';
import {
  ChangeDetectionStrategy,
  Component,
  computed,
  effect,
  inject,
  input,
  model,
  signal,
  untracked,
} from '@angular/core';
import { FormsModule } from '@angular/forms';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatSelectModule } from '@angular/material/select';
import type { HostSummary, Permission } from '@skiff/protocol';
import { firstValueFrom } from 'rxjs';

import { Permissions } from '../../core/access/permissions';
import { errorMessage } from '../../core/errors/error-message';

/**
 * Picks one host for a per-host page (images, volumes, networks): the hosts the user may view that
 * kind of object on. The first one is chosen when nothing is.
 */
@Component({
  selector: 'skiff-engine-host-picker',
  imports: [FormsModule, MatFormFieldModule, MatSelectModule],
  template: `
    @if (error(); as message) {
      <p class="error" role="alert">Could not list the hosts: {{ message }}</p>
    } @else if (hosts() !== null && choices().length === 0 && permissions.loaded()) {
      <p class="empty" data-testid="no-hosts">
        No host to show: you need the {{ permission() }} permission on a host. Ask an administrator for a grant.
      </p>
    } @else {
      <mat-form-field appearance="outline" subscriptSizing="dynamic">
        <mat-label>Host</mat-label>
        <mat-select name="host" aria-label="Host" [ngModel]="hostId()" (ngModelChange)="hostId.set($event)">
          @for (host of choices(); track host.id) {
            <mat-option [value]="host.id">{{ host.name }} ({{ host.status }})</mat-option>
          }
        </mat-select>
      </mat-form-field>
    }
  `,
  styles: `
    .error {
      color: var(--mat-sys-error);
    }
    .empty {
      color: var(--skiff-muted);
    }
    mat-form-field {
      width: 260px;
    }
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class EngineHostPicker {
  private readonly http = inject(HttpClient);
  protected readonly permissions = inject(Permissions);

  /** The permission a host must grant to be listed. */
  readonly permission = input.required<Permission>();
  readonly hostId = model<string>('');

  protected readonly hosts = signal<HostSummary[] | null>(null);
  protected readonly error = signal<string | null>(null);
  protected readonly choices = computed(() =>
    (this.hosts() ?? []).filter((host) => this.permissions.holds(this.permission(), host.id)),
  );

  constructor() {
    void this.load();
    effect(() => {
      const choices = this.choices();
      untracked(() => {
        if (choices.length === 0 || choices.some((host) => host.id === this.hostId())) return;
        this.hostId.set((choices.find((host) => host.status === 'online') ?? choices[0]!).id);
      });
    });
  }

  private async load(): Promise<void> {
    try {
      const hosts = await firstValueFrom(this.http.get<HostSummary[]>('/api/hosts'));
      this.hosts.set([...hosts].sort((a, b) => a.name.localeCompare(b.name)));
    } catch (error) {
      this.error.set(errorMessage(error));
    }
  }
}
