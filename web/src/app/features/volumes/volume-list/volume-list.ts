import { ChangeDetectionStrategy, Component, computed, effect, inject, signal, untracked } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatTooltipModule } from '@angular/material/tooltip';
import { RouterLink } from '@angular/router';

import { Permissions } from '../../../core/access/permissions';
import { EngineApi } from '../../../core/engine/engine-api';
import { errorMessage } from '../../../core/errors/error-message';
import { EngineHostPicker } from '../../images/engine-host-picker';
import { JsonView, readable } from '../../images/json-view';
import { parsePairs } from '../key-value-lines';

interface Volume {
  Name: string;
  Driver: string;
  Mountpoint?: string;
  CreatedAt?: string;
  Labels?: Record<string, string> | null;
  Scope?: string;
}

interface UsingContainer {
  Id: string;
  Names?: string[];
  State?: string;
}

interface Inspected {
  name: string;
  value: Record<string, unknown>;
  facts: { label: string; value: string }[];
  users: UsingContainer[] | null;
  usersError: string | null;
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

@Component({
  selector: 'skiff-volume-list',
  imports: [
    FormsModule,
    RouterLink,
    MatButtonModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatTooltipModule,
    EngineHostPicker,
    JsonView,
  ],
  templateUrl: './volume-list.html',
  styleUrl: '../../run/engine-pages.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class VolumeList {
  private readonly engine = inject(EngineApi);
  protected readonly permissions = inject(Permissions);

  protected readonly hostId = signal('');
  protected readonly volumes = signal<Volume[] | null>(null);
  protected readonly loading = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly message = signal<string | null>(null);
  protected readonly actionError = signal<string | null>(null);
  protected readonly inspected = signal<Inspected | null>(null);
  protected readonly creating = signal(false);
  protected readonly newName = signal('');
  protected readonly newDriver = signal('local');
  protected readonly newLabels = signal('');
  protected readonly newOptions = signal('');

  protected readonly manageReason = computed(() => this.permissions.reason('volume.manage', this.hostId()));
  protected readonly sorted = computed(() => [...(this.volumes() ?? [])].sort((a, b) => a.Name.localeCompare(b.Name)));
  protected readonly nameProblem = computed(() => {
    const name = this.newName().trim();
    if (name && !VOLUME_NAME.test(name)) {
      return 'A volume name has at least two characters: letters, digits, _ . and -, starting with a letter or digit.';
    }
    return null;
  });

  constructor() {
    effect(() => {
      const hostId = this.hostId();
      untracked(() => {
        this.inspected.set(null);
        void this.reload(hostId);
      });
    });
  }

  protected async reload(hostId = this.hostId()): Promise<void> {
    this.volumes.set(null);
    if (!hostId) return;
    this.loading.set(true);
    this.error.set(null);
    try {
      const answer = await this.engine.get<{ Volumes: Volume[] | null }>(hostId, '/volumes');
      if (hostId === this.hostId()) this.volumes.set(answer.Volumes ?? []);
    } catch (error) {
      if (hostId === this.hostId()) this.error.set(errorMessage(error));
    } finally {
      this.loading.set(false);
    }
  }

  protected async create(): Promise<void> {
    if (this.nameProblem()) return;
    let labels: Record<string, string>;
    let options: Record<string, string>;
    try {
      labels = parsePairs(this.newLabels(), 'Labels');
      options = parsePairs(this.newOptions(), 'Driver options');
    } catch (error) {
      this.actionError.set((error as Error).message);
      return;
    }
    this.creating.set(true);
    this.actionError.set(null);
    try {
      const body: Record<string, unknown> = {
        Driver: this.newDriver().trim() || 'local',
        Labels: labels,
        DriverOpts: options,
      };
      if (this.newName().trim()) body['Name'] = this.newName().trim();
      const created = await this.engine.post<Volume>(this.hostId(), '/volumes/create', body);
      this.message.set(`Created volume ${created.Name}.`);
      this.newName.set('');
      this.newLabels.set('');
      this.newOptions.set('');
      await this.reload();
    } catch (error) {
      this.actionError.set(`Could not create the volume: ${errorMessage(error)}`);
    } finally {
      this.creating.set(false);
    }
  }

  protected async inspect(volume: Volume): Promise<void> {
    if (this.inspected()?.name === volume.Name) {
      this.inspected.set(null);
      return;
    }
    const hostId = this.hostId();
    this.actionError.set(null);
    try {
      const value = await this.engine.get<Record<string, unknown>>(
        hostId,
        `/volumes/${encodeURIComponent(volume.Name)}`,
      );
      this.inspected.set({
        name: volume.Name,
        value,
        facts: [
          { label: 'Name', value: readable(value['Name']) },
          { label: 'Driver', value: readable(value['Driver']) },
          { label: 'Mount point', value: readable(value['Mountpoint']) },
          { label: 'Created', value: readable(value['CreatedAt']) },
          { label: 'Scope', value: readable(value['Scope']) },
          { label: 'Labels', value: readable(value['Labels']) },
          { label: 'Driver options', value: readable(value['Options']) },
        ],
        users: null,
        usersError: null,
      });
      const filters = encodeURIComponent(JSON.stringify({ volume: [volume.Name] }));
      try {
        const users = await this.engine.get<UsingContainer[]>(hostId, `/containers/json?all=1&filters=${filters}`);
        this.inspected.update((shown) => (shown?.name === volume.Name ? { ...shown, users } : shown));
      } catch (error) {
        this.inspected.update((shown) =>
          shown?.name === volume.Name ? { ...shown, usersError: errorMessage(error) } : shown,
        );
      }
    } catch (error) {
      this.actionError.set(`Could not inspect ${volume.Name}: ${errorMessage(error)}`);
    }
  }

  protected containerName(container: UsingContainer): string {
    return container.Names?.[0]?.replace(/^\//, '') ?? container.Id.slice(0, 12);
  }

  protected async remove(volume: Volume): Promise<void> {
    if (!confirm(`Remove volume ${volume.Name} and its data?`)) return;
    this.actionError.set(null);
    try {
      await this.engine.delete(this.hostId(), `/volumes/${encodeURIComponent(volume.Name)}`);
      this.message.set(`Removed volume ${volume.Name}.`);
      await this.reload();
    } catch (error) {
      this.actionError.set(`Could not remove ${volume.Name}: ${errorMessage(error)}`);
    }
  }
}
