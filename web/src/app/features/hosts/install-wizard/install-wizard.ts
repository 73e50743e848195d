import { Clipboard } from '@angular/cdk/clipboard';
import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCheckboxModule } from '@angular/material/checkbox';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatRadioModule } from '@angular/material/radio';
import { RouterLink } from '@angular/router';
import type { ProvisioningJobSummary } from '@skiff/protocol';

import { Permissions } from '../../../core/access/permissions';
import { errorMessage } from '../../../core/errors/error-message';
import { ProvisioningApi, type ManualInstall, type ProbeResult, type SshCredentials } from '../provisioning-api';
import { ProvisioningFeed } from '../provisioning-feed';
import { parseTargets, targetLabel, type TargetAddress } from './install-targets';

type Stage = 'login' | 'confirm' | 'progress';

interface ProbedTarget {
  target: TargetAddress;
  label: string;
  result?: ProbeResult;
  error?: string;
  /** The operator checked the fingerprint on the host. */
  confirmed: boolean;
}

/**
 * "Install over SSH": addresses and the login, then each host's key fingerprint to confirm (or the
 * pinned one, or a changed one that is refused), then every host's steps with progress and output
 * as the server pushes them.
 */
@Component({
  selector: 'skiff-install-wizard',
  imports: [
    FormsModule,
    RouterLink,
    MatButtonModule,
    MatCheckboxModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatRadioModule,
  ],
  templateUrl: './install-wizard.html',
  styleUrl: './install-wizard.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class InstallWizard {
  private readonly api = inject(ProvisioningApi);
  private readonly feed = inject(ProvisioningFeed);
  private readonly clipboard = inject(Clipboard);
  private readonly permissions = inject(Permissions);
  protected readonly canProvision = this.permissions.can('host.manage');
  protected readonly permissionsLoaded = this.permissions.loaded;
  protected readonly permissionReason = computed(() => this.permissions.reason('host.manage'));

  protected readonly stage = signal<Stage>('login');
  protected readonly busy = signal(false);
  protected readonly failure = signal<string | null>(null);

  protected addresses = '';
  protected username = 'root';
  protected authMode: 'password' | 'key' = 'password';
  protected password = '';
  protected privateKey = '';
  protected passphrase = '';
  protected sudo = false;
  protected storeCredentials = false;

  protected readonly probed = signal<ProbedTarget[]>([]);
  protected readonly installable = computed(() =>
    this.probed().filter((entry) => entry.result && entry.result.state !== 'changed' && !entry.error),
  );
  protected readonly readyToInstall = computed(
    () =>
      this.installable().length > 0 &&
      this.installable().every((entry) => entry.result?.state === 'pinned' || entry.confirmed),
  );

  private readonly jobIds = signal<string[]>([]);
  protected readonly jobs = computed(() => {
    const known = this.feed.jobs();
    return this.jobIds()
      .map((id) => known.get(id))
      .filter((job): job is ProvisioningJobSummary => job !== undefined);
  });
  protected readonly allDone = computed(() => this.jobs().every((job) => job.status !== 'running'));

  protected readonly manual = signal<ManualInstall | null>(null);
  protected readonly manualCopied = signal(false);

  protected async checkHostKeys(): Promise<void> {
    this.failure.set(null);
    let targets: TargetAddress[];
    try {
      targets = parseTargets(this.addresses);
    } catch (error) {
      this.failure.set(errorMessage(error));
      return;
    }
    if (targets.length === 0) {
      this.failure.set('give at least one address');
      return;
    }
    if (this.authMode === 'password' ? !this.password : !this.privateKey.trim()) {
      this.failure.set(this.authMode === 'password' ? 'give the password' : 'paste the private key');
      return;
    }
    this.busy.set(true);
    try {
      const probed = await Promise.all(
        targets.map(async (target): Promise<ProbedTarget> => {
          const label = targetLabel(target);
          try {
            return { target, label, result: await this.api.probe(target.address, target.port), confirmed: false };
          } catch (error) {
            return { target, label, error: errorMessage(error), confirmed: false };
          }
        }),
      );
      this.probed.set(probed);
      this.stage.set('confirm');
    } finally {
      this.busy.set(false);
    }
  }

  protected confirm(entry: ProbedTarget, confirmed: boolean): void {
    this.probed.update((all) =>
      all.map((candidate) => (candidate === entry ? { ...candidate, confirmed } : candidate)),
    );
  }

  protected async install(): Promise<void> {
    this.failure.set(null);
    this.busy.set(true);
    try {
      const jobs = await this.api.install({
        targets: this.installable().map((entry) => ({
          address: entry.target.address,
          port: entry.target.port,
          ...(entry.result?.state === 'new' ? { hostKeyFingerprint: entry.result.fingerprint } : {}),
        })),
        credentials: this.credentials(),
        storeCredentials: this.storeCredentials,
      });
      for (const job of jobs) this.feed.remember(job);
      this.jobIds.set(jobs.map((job) => job.id));
      this.stage.set('progress');
    } catch (error) {
      this.failure.set(errorMessage(error));
    } finally {
      this.busy.set(false);
    }
  }

  protected back(): void {
    this.stage.set('login');
    this.probed.set([]);
  }

  protected startOver(): void {
    this.jobIds.set([]);
    this.back();
  }

  protected async showManualCommand(): Promise<void> {
    this.failure.set(null);
    try {
      this.manual.set(await this.api.manualInstall());
    } catch (error) {
      this.failure.set(errorMessage(error));
    }
  }

  protected copyManual(command: string): void {
    this.manualCopied.set(this.clipboard.copy(command));
  }

  protected stepMark(status: string): string {
    switch (status) {
      case 'succeeded':
        return '✓';
      case 'failed':
        return '✗';
      case 'running':
        return '…';
      case 'skipped':
        return '–';
      default:
        return '·';
    }
  }

  private credentials(): SshCredentials {
    const credentials: SshCredentials = { username: this.username.trim(), sudo: this.sudo };
    if (this.authMode === 'password') {
      credentials.password = this.password;
    } else {
      credentials.privateKey = this.privateKey;
      if (this.passphrase) credentials.passphrase = this.passphrase;
      if (this.sudo && this.password) credentials.password = this.password;
    }
    return credentials;
  }
}
