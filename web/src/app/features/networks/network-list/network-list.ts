import { ChangeDetectionStrategy, Component, computed, effect, inject, signal, untracked } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MatProgressBarModule } from '@angular/material/progress-bar';

import { EngineApi, EngineError } from '../../../core/engine/engine-api';
import { errorMessage } from '../../../core/errors/error-message';
import { EngineHostPicker } from '../../images/engine-host-picker';
import { JsonView, readable } from '../../images/json-view';

interface Network {
  Id: string;
  Name: string;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
}

interface Inspected {
  id: string;
  value: Record<string, unknown>;
  facts: { label: string; value: string }[];
}

@Component({
  selector: 'skiff-network-list',
  imports: [MatButtonModule, MatProgressBarModule, EngineHostPicker, JsonView],
  templateUrl: './network-list.html',
  styleUrl: '../../run/engine-pages.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class NetworkList {
  private readonly engine = inject(EngineApi);

  protected readonly hostId = signal('');
  protected readonly networks = signal<Network[] | null>(null);
  protected readonly loading = signal(false);
  protected readonly error = signal<string | null>(null);
  /** What the host's agent said when it does not serve networks at all (HTTP 501), rather than failed. */
  protected readonly unsupported = signal<string | null>(null);
  protected readonly actionError = signal<string | null>(null);
  protected readonly inspected = signal<Inspected | null>(null);
  protected readonly sorted = computed(() => [...(this.networks() ?? [])].sort((a, b) => a.Name.localeCompare(b.Name)));

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
    this.networks.set(null);
    if (!hostId) return;
    this.loading.set(true);
    this.error.set(null);
    this.unsupported.set(null);
    try {
      const networks = await this.engine.get<Network[]>(hostId, '/networks');
      if (hostId === this.hostId()) this.networks.set(networks);
    } catch (error) {
      if (hostId !== this.hostId()) return;
      if (error instanceof EngineError && error.status === 501) this.unsupported.set(error.message);
      else this.error.set(errorMessage(error));
    } finally {
      this.loading.set(false);
    }
  }

  protected async inspect(network: Network): Promise<void> {
    if (this.inspected()?.id === network.Id) {
      this.inspected.set(null);
      return;
    }
    this.actionError.set(null);
    try {
      const value = await this.engine.get<Record<string, unknown>>(
        this.hostId(),
        `/networks/${encodeURIComponent(network.Id)}`,
      );
      const ipam = (value['IPAM'] ?? {}) as { Config?: { Subnet?: string; Gateway?: string }[] | null };
      const containers = (value['Containers'] ?? {}) as Record<string, { Name?: string; IPv4Address?: string }>;
      this.inspected.set({
        id: network.Id,
        value,
        facts: [
          { label: 'Id', value: readable(value['Id']) },
          { label: 'Driver', value: readable(value['Driver']) },
          { label: 'Scope', value: readable(value['Scope']) },
          { label: 'Internal', value: readable(value['Internal']) },
          {
            label: 'Subnets',
            value: readable(
              (ipam.Config ?? []).map((config) =>
                [config.Subnet, config.Gateway && `gateway ${config.Gateway}`].filter(Boolean).join(', '),
              ),
            ),
          },
          {
            label: 'Containers',
            value: readable(
              Object.entries(containers).map(([id, entry]) =>
                `${entry.Name ?? id.slice(0, 12)} ${entry.IPv4Address ?? ''}`.trim(),
              ),
            ),
          },
          { label: 'Options', value: readable(value['Options']) },
          { label: 'Labels', value: readable(value['Labels']) },
        ],
      });
    } catch (error) {
      this.actionError.set(`Could not inspect ${network.Name}: ${errorMessage(error)}`);
    }
  }
}
