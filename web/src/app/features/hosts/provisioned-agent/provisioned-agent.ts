import { ChangeDetectionStrategy, Component, computed, effect, inject, input, signal, untracked } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCardModule } from '@angular/material/card';
import { MatCheckboxModule } from '@angular/material/checkbox';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import type { ProvisioningJobSummary } from '@skiff/protocol';

import { Permissions } from '../../../core/access/permissions';
import { errorMessage } from '../../../core/errors/error-message';
import { ProvisioningApi, type ProvisioningTarget, type SshCredentials } from '../provisioning-api';
import { ProvisioningFeed } from '../provisioning-feed';

/**
 * On a host's page, when its agent was installed over SSH: where and which version, and upgrade
 * to the server's agent (containers keep running) or uninstall (optionally keeping the data),
 * with the kept login or a password given here. Shown only to holders of host.manage everywhere.
 */
@Component({
  selector: 'skiff-provisioned-agent',
  imports: [
    FormsModule,
    MatButtonModule,
    MatCardModule,
    MatCheckboxModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
  ],
  template: `
    @if (target(); as target) {
      <mat-card appearance="outlined" data-testid="provisioned-agent">
        <mat-card-header
          ><mat-card-title><h2>Installed over SSH</h2></mat-card-title></mat-card-header
        >
        <mat-card-content>
          <dl class="facts">
            <dt>SSH</dt>
            <dd>
              {{ target.username ?? '?' }}&#64;{{ target.address }}:{{ target.port }}{{ target.sudo ? ' (sudo)' : '' }}
            </dd>
            <dt>Host key</dt>
            <dd>
              <code>{{ target.hostKeyFingerprint }}</code>
            </dd>
            <dt>Agent bundle</dt>
            <dd data-testid="provisioned-version">{{ target.agentVersion ?? 'unknown' }}</dd>
          </dl>
          @if (!target.hasStoredCredentials) {
            <mat-form-field appearance="outline">
              <mat-label>SSH password for {{ target.username ?? 'the login' }}</mat-label>
              <input matInput type="password" name="password" autocomplete="off" [(ngModel)]="password" />
            </mat-form-field>
          }
          <mat-checkbox name="keepData" [(ngModel)]="keepData"
            >Keep data (/var/lib/skiff) when uninstalling</mat-checkbox
          >
          @if (job(); as job) {
            <p data-testid="provisioned-job">
              {{ job.kind }}: {{ job.status }} ({{ job.progress }}%)
              @if (job.error) {
                <span class="error" role="alert">— {{ job.error }}</span>
              }
            </p>
            <mat-progress-bar mode="determinate" [value]="job.progress" aria-label="Progress" />
          }
          @if (failure(); as message) {
            <p class="error" role="alert">{{ message }}</p>
          }
        </mat-card-content>
        <mat-card-actions>
          <button
            mat-stroked-button
            type="button"
            (click)="upgrade(target)"
            [disabled]="running()"
            data-testid="agent-upgrade"
          >
            Upgrade agent
          </button>
          <button
            mat-stroked-button
            type="button"
            class="danger"
            (click)="uninstall(target)"
            [disabled]="running()"
            data-testid="agent-uninstall"
          >
            Uninstall
          </button>
        </mat-card-actions>
      </mat-card>
    }
  `,
  styles: `
    .facts {
      display: grid;
      grid-template-columns: max-content 1fr;
      gap: 4px 16px;
    }
    .error {
      color: var(--mat-sys-error);
    }
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ProvisionedAgent {
  readonly hostId = input.required<string>();

  private readonly api = inject(ProvisioningApi);
  private readonly feed = inject(ProvisioningFeed);
  private readonly permissions = inject(Permissions);

  protected readonly target = signal<ProvisioningTarget | null>(null);
  protected readonly failure = signal<string | null>(null);
  private readonly jobId = signal<string | null>(null);
  protected readonly job = computed(() => {
    const id = this.jobId();
    return id === null ? null : (this.feed.jobs().get(id) ?? null);
  });
  protected readonly running = computed(() => this.job()?.status === 'running');
  protected password = '';
  protected keepData = false;
  private readonly canProvision = this.permissions.can('host.manage');

  constructor() {
    effect(() => {
      const hostId = this.hostId();
      // Targets are listed only for host.manage on every host.
      if (!this.canProvision()) return;
      untracked(() => void this.load(hostId));
    });
  }

  private async load(hostId: string): Promise<void> {
    try {
      this.target.set((await this.api.targets()).find((target) => target.hostId === hostId) ?? null);
    } catch {
      this.target.set(null);
    }
  }

  protected async upgrade(target: ProvisioningTarget): Promise<void> {
    await this.start(() => this.api.upgrade(target.id, this.credentials(target)));
  }

  protected async uninstall(target: ProvisioningTarget): Promise<void> {
    if (!confirm(`Remove Skiff from ${target.address}? Its containers are removed and the host is revoked.`)) return;
    await this.start(() => this.api.uninstall(target.id, this.keepData, this.credentials(target)));
  }

  private async start(call: () => Promise<ProvisioningJobSummary>): Promise<void> {
    this.failure.set(null);
    try {
      const job = await call();
      this.feed.remember(job);
      this.jobId.set(job.id);
    } catch (error) {
      this.failure.set(errorMessage(error));
    }
  }

  private credentials(target: ProvisioningTarget): SshCredentials | undefined {
    if (target.hasStoredCredentials) return undefined;
    return { username: target.username ?? 'root', password: this.password, sudo: target.sudo };
  }
}
