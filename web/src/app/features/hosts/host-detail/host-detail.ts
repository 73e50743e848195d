import { ChangeDetectionStrategy, Component, computed, effect, inject, signal, untracked } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { FormsModule } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCardModule } from '@angular/material/card';
import { MatDialog } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSnackBar } from '@angular/material/snack-bar';
import { MatTooltipModule } from '@angular/material/tooltip';
import { ActivatedRoute, Router, RouterLink } from '@angular/router';

import { Permissions } from '../../../core/access/permissions';
import { EngineApi } from '../../../core/engine/engine-api';
import { errorMessage } from '../../../core/errors/error-message';
import { formatByteSize } from '../../../shared/format/byte-size';
import { usageLines } from '../host-usage';
import { formatTimeAgo } from '../../../shared/format/relative-time';
import { FleetContainersApi, containerName, type FleetContainer } from '../../containers/fleet-containers';
import { confirmAction } from '../../people/confirm-dialog';
import { ProvisionedAgent } from '../provisioned-agent/provisioned-agent';
import { HostsApi, type HostDetails } from '../hosts-api';
import { HostsFeed } from '../hosts-feed';

/** Docker's image summary (GET /images/json), the fields shown. */
interface ImageSummary {
  Id: string;
  RepoTags?: string[] | null;
  Size?: number;
  Created?: number;
}

/** Docker's GET /volumes. */
interface VolumeList {
  Volumes?: { Name: string; Driver?: string; Mountpoint?: string }[] | null;
}

interface LabelRow {
  key: string;
  value: string;
}

/** One host: its status and inventory, labels, containers, images and volumes; revoke. */
@Component({
  selector: 'skiff-host-detail',
  imports: [
    ProvisionedAgent,
    FormsModule,
    RouterLink,
    MatButtonModule,
    MatCardModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatTooltipModule,
  ],
  templateUrl: './host-detail.html',
  styleUrl: './host-detail.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class HostDetail {
  private readonly params = toSignal(inject(ActivatedRoute).paramMap, { requireSync: true });
  /** The route's `:id`. */
  protected readonly id = computed(() => this.params().get('id') ?? '');

  private readonly api = inject(HostsApi);
  private readonly engine = inject(EngineApi);
  private readonly containersApi = inject(FleetContainersApi);
  private readonly feed = inject(HostsFeed);
  private readonly permissions = inject(Permissions);
  private readonly dialog = inject(MatDialog);
  private readonly snackBar = inject(MatSnackBar);
  private readonly router = inject(Router);

  private readonly details = signal<HostDetails | null>(null);
  protected readonly loadError = signal<string | null>(null);
  /** The live summary from the socket wins over the REST answer for status and inventory. */
  protected readonly host = computed(() => {
    const details = this.details();
    const live = this.feed.hosts().find((host) => host.id === this.id());
    return details && live ? { ...details, ...live, labels: details.labels } : details;
  });
  /** Memory and disk in use, live from the heartbeats. */
  protected readonly usage = computed(() => usageLines(this.host()?.inventory));
  protected readonly canManage = computed(() => this.permissions.holds('host.manage', this.id()));
  protected readonly manageReason = computed(() => this.permissions.reason('host.manage', this.id()));

  protected readonly labels = signal<LabelRow[]>([]);
  protected readonly savingLabels = signal(false);
  protected readonly labelsError = signal<string | null>(null);

  protected readonly containers = signal<FleetContainer[] | null>(null);
  protected readonly containersError = signal<string | null>(null);
  protected readonly images = signal<ImageSummary[] | null>(null);
  protected readonly imagesError = signal<string | null>(null);
  protected readonly volumes = signal<VolumeList['Volumes'] | null>(null);
  protected readonly volumesError = signal<string | null>(null);

  protected readonly formatBytes = formatByteSize;
  protected readonly containerName = containerName;

  constructor() {
    effect(() => {
      const id = this.id();
      untracked(() => void this.load(id));
    });
  }

  protected lastSeen(at: string | null): string {
    return at ? formatTimeAgo(at, Date.now()) : 'Never';
  }

  protected imageName(image: ImageSummary): string {
    return image.RepoTags?.find((tag) => tag !== '<none>:<none>') ?? image.Id.replace(/^sha256:/, '').slice(0, 12);
  }

  protected addLabel(): void {
    this.labels.update((rows) => [...rows, { key: '', value: '' }]);
  }

  protected removeLabel(index: number): void {
    this.labels.update((rows) => rows.filter((_row, at) => at !== index));
  }

  protected setLabel(index: number, field: keyof LabelRow, value: string): void {
    this.labels.update((rows) => rows.map((row, at) => (at === index ? { ...row, [field]: value } : row)));
  }

  protected async saveLabels(): Promise<void> {
    const labels: Record<string, string> = {};
    for (const row of this.labels()) {
      const key = row.key.trim();
      if (!key) continue;
      if (key in labels) {
        this.labelsError.set(`The label ${key} is there twice.`);
        return;
      }
      labels[key] = row.value.trim();
    }
    this.savingLabels.set(true);
    this.labelsError.set(null);
    try {
      const saved = await this.api.setLabels(this.id(), labels);
      this.details.update((details) => (details ? { ...details, labels: saved.labels ?? labels } : details));
      this.labels.set(toRows(saved.labels ?? labels));
      this.snackBar.open('Labels saved.', undefined, { duration: 3000 });
    } catch (error) {
      this.labelsError.set(errorMessage(error));
    } finally {
      this.savingLabels.set(false);
    }
  }

  protected async revoke(): Promise<void> {
    const host = this.host();
    if (!host) return;
    const confirmed = await confirmAction(this.dialog, {
      title: `Revoke ${host.name}?`,
      message:
        'Its agent is disconnected and stops for good; enrolling the machine again needs a new join token. ' +
        'Its containers keep running.',
      confirm: `Revoke ${host.name}`,
    });
    if (!confirmed) return;
    try {
      await this.api.revoke(host.id);
      this.snackBar.open(`${host.name} was revoked.`, undefined, { duration: 5000 });
      await this.router.navigateByUrl('/hosts');
    } catch (error) {
      this.snackBar.open(`Could not revoke ${host.name}: ${errorMessage(error)}`, 'Dismiss', { duration: 8000 });
    }
  }

  private async load(id: string): Promise<void> {
    try {
      const details = await this.api.get(id);
      this.details.set(details);
      this.labels.set(toRows(details.labels));
      this.loadError.set(null);
    } catch (error) {
      this.loadError.set(errorMessage(error));
      return;
    }
    void this.containersApi.list({ host: id, name: '', image: '', label: '', state: '' }).then(
      (fleet) => this.containers.set(fleet.containers.filter((container) => container.hostId === id)),
      (error: unknown) => this.containersError.set(errorMessage(error)),
    );
    void this.engine.get<ImageSummary[]>(id, '/images/json').then(
      (images) => this.images.set(images),
      (error: unknown) => this.imagesError.set(errorMessage(error)),
    );
    void this.engine.get<VolumeList>(id, '/volumes').then(
      (list) => this.volumes.set(list.Volumes ?? []),
      (error: unknown) => this.volumesError.set(errorMessage(error)),
    );
  }
}

function toRows(labels: Record<string, string> | undefined): LabelRow[] {
  return Object.entries(labels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => ({ key, value }));
}
