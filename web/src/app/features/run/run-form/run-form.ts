import { HttpClient } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, computed, effect, inject, signal, untracked } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { MatAutocompleteModule } from '@angular/material/autocomplete';
import { MatButtonModule } from '@angular/material/button';
import { MatCheckboxModule } from '@angular/material/checkbox';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSelectModule } from '@angular/material/select';
import { MatTooltipModule } from '@angular/material/tooltip';
import { ActivatedRoute, Router, RouterLink } from '@angular/router';
import type { HostSummary } from '@skiff/protocol';
import { firstValueFrom } from 'rxjs';

import { Permissions } from '../../../core/access/permissions';
import { EngineApi, EngineError } from '../../../core/engine/engine-api';
import { errorMessage } from '../../../core/errors/error-message';
import {
  RESTART_POLICIES,
  createBody,
  dockerRunLine,
  emptyRunSpec,
  needsPrivileged,
  validateRunSpec,
  type KeyValueRow,
  type MountKind,
  type MountRow,
  type PortRow,
  type RunSpec,
} from '../run-spec';

interface ImageSummary {
  Id: string;
  RepoTags?: string[] | null;
}

interface NetworkSummary {
  Name: string;
  Driver?: string;
}

type RowList = 'env' | 'labels';

/** The default networks, offered when the host's own list cannot be read. */
const FALLBACK_NETWORKS = ['bridge', 'host', 'none'];

@Component({
  selector: 'skiff-run-form',
  imports: [
    FormsModule,
    RouterLink,
    MatAutocompleteModule,
    MatButtonModule,
    MatCheckboxModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatSelectModule,
    MatTooltipModule,
  ],
  templateUrl: './run-form.html',
  styleUrl: './run-form.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class RunForm {
  private readonly http = inject(HttpClient);
  private readonly engine = inject(EngineApi);
  private readonly router = inject(Router);
  protected readonly permissions = inject(Permissions);

  protected readonly restartPolicies = RESTART_POLICIES;
  protected readonly keyValueLists: readonly {
    key: RowList;
    title: string;
    keyLabel: string;
    rowLabel: string;
    noun: string;
  }[] = [
    { key: 'env', title: 'Environment', keyLabel: 'Variable', rowLabel: 'a variable', noun: 'variable' },
    { key: 'labels', title: 'Labels', keyLabel: 'Key', rowLabel: 'a label', noun: 'label' },
  ];
  protected readonly spec = signal<RunSpec>(
    emptyRunSpec(inject(ActivatedRoute).snapshot.queryParamMap.get('host') ?? ''),
  );
  protected readonly hosts = signal<HostSummary[] | null>(null);
  protected readonly hostsError = signal<string | null>(null);
  protected readonly images = signal<string[]>([]);
  protected readonly imagesError = signal<string | null>(null);
  protected readonly networks = signal<string[]>(FALLBACK_NETWORKS);
  protected readonly submitting = signal(false);
  protected readonly submitted = signal(false);
  protected readonly failure = signal<string | null>(null);
  /** A container that was created but did not start. */
  protected readonly createdId = signal<string | null>(null);

  /** Only hosts the user may run containers on. */
  protected readonly runnableHosts = computed(() =>
    (this.hosts() ?? []).filter((host) => this.permissions.holds('container.manage', host.id)),
  );
  protected readonly problems = computed(() => validateRunSpec(this.spec()));
  protected readonly line = computed(() => dockerRunLine(this.spec()));
  protected readonly privilegedReason = computed(() => {
    const hostId = this.spec().hostId;
    return hostId ? this.permissions.reason('container.privileged', hostId) : 'Choose a host first.';
  });
  protected readonly needsPrivileged = computed(() => needsPrivileged(this.spec()));
  protected readonly imageChoices = computed(() => {
    const typed = this.spec().image.trim().toLowerCase();
    return this.images().filter((image) => image.toLowerCase().includes(typed));
  });
  /** A hint, not an error: the engine answers "No such image" itself. */
  protected readonly imageUnknown = computed(() => {
    const image = this.spec().image.trim();
    if (!image || this.images().length === 0) return false;
    const tagged = /:[^/]+$/.test(image) || image.includes('@') ? image : `${image}:latest`;
    return !this.images().includes(tagged);
  });

  constructor() {
    void this.loadHosts();
    // One host to choose from: chosen.
    effect(() => {
      const runnable = this.runnableHosts();
      untracked(() => {
        if (!this.spec().hostId && runnable.length === 1) this.setHost(runnable[0]!.id);
      });
    });
    // The host's images and networks, whenever the host changes.
    effect(() => {
      const hostId = this.spec().hostId;
      untracked(() => void this.loadHost(hostId));
    });
  }

  protected problem(field: string): string | null {
    return this.problems().find((problem) => problem.field === field)?.message ?? null;
  }

  protected rowProblem(list: string, index: number): string | null {
    return this.problem(`${list}.${index}`);
  }

  protected set<K extends keyof RunSpec>(key: K, value: RunSpec[K]): void {
    this.spec.update((spec) => ({ ...spec, [key]: value }));
    this.failure.set(null);
  }

  protected setHost(hostId: string): void {
    this.spec.update((spec) => ({ ...spec, hostId, image: spec.image }));
  }

  protected addKeyValue(list: RowList): void {
    this.spec.update((spec) => ({ ...spec, [list]: [...spec[list], { key: '', value: '' }] }));
  }

  protected setKeyValue(list: RowList, index: number, patch: Partial<KeyValueRow>): void {
    this.spec.update((spec) => ({
      ...spec,
      [list]: spec[list].map((row, at) => (at === index ? { ...row, ...patch } : row)),
    }));
  }

  protected removeKeyValue(list: RowList, index: number): void {
    this.spec.update((spec) => ({ ...spec, [list]: spec[list].filter((_, at) => at !== index) }));
  }

  protected addMount(kind: MountKind): void {
    this.spec.update((spec) => ({
      ...spec,
      mounts: [...spec.mounts, { kind, source: '', target: '', readOnly: false }],
    }));
  }

  protected setMount(index: number, patch: Partial<MountRow>): void {
    this.spec.update((spec) => ({
      ...spec,
      mounts: spec.mounts.map((row, at) => (at === index ? { ...row, ...patch } : row)),
    }));
  }

  protected removeMount(index: number): void {
    this.spec.update((spec) => ({ ...spec, mounts: spec.mounts.filter((_, at) => at !== index) }));
  }

  protected addPort(): void {
    this.spec.update((spec) => ({
      ...spec,
      ports: [...spec.ports, { hostPort: '', containerPort: '', protocol: 'tcp' }],
    }));
  }

  protected setPort(index: number, patch: Partial<PortRow>): void {
    this.spec.update((spec) => ({
      ...spec,
      ports: spec.ports.map((row, at) => (at === index ? { ...row, ...patch } : row)),
    }));
  }

  protected removePort(index: number): void {
    this.spec.update((spec) => ({ ...spec, ports: spec.ports.filter((_, at) => at !== index) }));
  }

  protected async copyLine(): Promise<void> {
    await navigator.clipboard?.writeText(this.line()).catch(() => undefined);
  }

  protected async submit(): Promise<void> {
    this.submitted.set(true);
    if (this.problems().length > 0 || this.submitting()) return;
    const spec = this.spec();
    this.submitting.set(true);
    this.failure.set(null);
    this.createdId.set(null);
    try {
      const query = spec.name.trim() ? `?name=${encodeURIComponent(spec.name.trim())}` : '';
      const created = await this.engine.post<{ Id: string }>(
        spec.hostId,
        `/containers/create${query}`,
        createBody(spec),
      );
      this.createdId.set(created.Id);
      await this.engine.post(spec.hostId, `/containers/${encodeURIComponent(created.Id)}/start`);
      await this.router.navigate(['/containers', spec.hostId, created.Id]);
    } catch (error) {
      const refused = error instanceof EngineError && error.status === 403;
      const step = this.createdId() ? 'The container was created but did not start' : 'The container was not created';
      this.failure.set(`${step}${refused ? ' (refused)' : ''}: ${errorMessage(error)}`);
      if (refused) void this.permissions.refresh();
    } finally {
      this.submitting.set(false);
    }
  }

  private async loadHosts(): Promise<void> {
    try {
      const hosts = await firstValueFrom(this.http.get<HostSummary[]>('/api/hosts'));
      this.hosts.set([...hosts].sort((a, b) => a.name.localeCompare(b.name)));
      this.hostsError.set(null);
    } catch (error) {
      this.hostsError.set(errorMessage(error));
    }
  }

  private async loadHost(hostId: string): Promise<void> {
    this.images.set([]);
    this.imagesError.set(null);
    this.networks.set(FALLBACK_NETWORKS);
    if (!hostId) return;
    const [images, networks] = await Promise.allSettled([
      this.engine.get<ImageSummary[]>(hostId, '/images/json'),
      this.engine.get<NetworkSummary[]>(hostId, '/networks'),
    ]);
    if (this.spec().hostId !== hostId) return;
    if (images.status === 'fulfilled') {
      const tags = images.value.flatMap((image) => (image.RepoTags ?? []).filter((tag) => tag !== '<none>:<none>'));
      this.images.set([...new Set(tags)].sort());
    } else {
      this.imagesError.set(errorMessage(images.reason));
    }
    if (networks.status === 'fulfilled' && networks.value.length > 0) {
      this.networks.set([...new Set(networks.value.map((network) => network.Name))].sort());
    }
  }
}
