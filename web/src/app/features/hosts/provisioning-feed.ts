import { Injectable, inject, signal } from '@angular/core';
import type { ProvisioningJobSummary } from '@skiff/protocol';

import { ConsoleSocket } from '../../core/realtime/console-socket';

/** Provisioning jobs as the server pushes them (every step, its output and progress), by id. */
@Injectable({ providedIn: 'root' })
export class ProvisioningFeed {
  private readonly socket = inject(ConsoleSocket);
  private readonly byId = signal<ReadonlyMap<string, ProvisioningJobSummary>>(new Map());

  readonly jobs = this.byId.asReadonly();

  constructor() {
    this.socket.on('provisioning.job', (job) => this.remember(job));
  }

  /** Also takes the state a REST answer carried; a newer one from the socket wins. */
  remember(job: ProvisioningJobSummary): void {
    this.byId.update((known) => {
      const before = known.get(job.id);
      if (before && isNewer(before, job)) return known;
      return new Map(known).set(job.id, job);
    });
  }
}

/** Whether `a` is further along than `b` (a finished job never goes back to running). */
function isNewer(a: ProvisioningJobSummary, b: ProvisioningJobSummary): boolean {
  if (a.status !== 'running' && b.status === 'running') return true;
  const done = (job: ProvisioningJobSummary) => job.steps.filter((step) => step.status !== 'pending').length;
  return done(a) > done(b);
}
