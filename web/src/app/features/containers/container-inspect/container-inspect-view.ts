import { ChangeDetectionStrategy, Component, computed, effect, inject, input, signal, untracked } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MatSlideToggleModule } from '@angular/material/slide-toggle';

import { EngineApi } from '../../../core/engine/engine-api';
import { inspectName, type ContainerInspect } from '../container-inspect';
import { MASK, maskEnv, parseEnv } from '../secret-env';

interface Processes {
  Titles?: string[];
  Processes?: string[][];
}

/** Inspect output for people: a summary, environment (secrets masked), mounts, processes, health, and the raw JSON. */
@Component({
  selector: 'skiff-container-inspect-view',
  imports: [MatButtonModule, MatSlideToggleModule],
  templateUrl: './container-inspect-view.html',
  styleUrl: './container-inspect-view.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ContainerInspectView {
  readonly hostId = input.required<string>();
  readonly inspect = input.required<ContainerInspect>();

  private readonly engine = inject(EngineApi);

  protected readonly mask = MASK;
  protected readonly reveal = signal(false);
  protected readonly processes = signal<Processes | null>(null);
  protected readonly processesError = signal<string | null>(null);

  protected readonly summary = computed(() => {
    const inspect = this.inspect();
    const command = [...(inspect.Config?.Entrypoint ?? []), ...(inspect.Config?.Cmd ?? [])].join(' ');
    const networks = Object.entries(inspect.NetworkSettings?.Networks ?? {})
      .map(([name, network]) => (network.IPAddress ? `${name} (${network.IPAddress})` : name))
      .join(', ');
    const restart = inspect.HostConfig?.RestartPolicy?.Name || 'no';
    return [
      { label: 'Name', value: inspectName(inspect) },
      { label: 'ID', value: inspect.Id },
      { label: 'Image', value: inspect.Config?.Image ?? inspect.Image ?? '' },
      { label: 'State', value: this.stateText(inspect) },
      { label: 'Created', value: inspect.Created ?? '' },
      { label: 'Command', value: command || '—' },
      { label: 'Working directory', value: inspect.Config?.WorkingDir || '/' },
      { label: 'User', value: inspect.Config?.User || 'root (image default)' },
      { label: 'Restart policy', value: `${restart} (restarted ${inspect.RestartCount ?? 0} times)` },
      { label: 'Networks', value: networks || inspect.HostConfig?.NetworkMode || '—' },
      { label: 'Privileged', value: inspect.HostConfig?.Privileged ? 'yes' : 'no' },
      { label: 'TTY', value: inspect.Config?.Tty ? 'yes' : 'no' },
    ];
  });
  protected readonly env = computed(() => parseEnv(this.inspect().Config?.Env));
  protected readonly secretCount = computed(() => this.env().filter((variable) => variable.secret).length);
  protected readonly labels = computed(() => Object.entries(this.inspect().Config?.Labels ?? {}));
  protected readonly mounts = computed(() => this.inspect().Mounts ?? []);
  protected readonly health = computed(() => this.inspect().State?.Health ?? null);
  protected readonly raw = computed(() => {
    const inspect = this.inspect();
    const shown = this.reveal()
      ? inspect
      : { ...inspect, Config: { ...inspect.Config, Env: maskEnv(inspect.Config?.Env) } };
    return JSON.stringify(shown, null, 2);
  });

  constructor() {
    effect(() => {
      const running = this.inspect().State?.Running === true;
      const hostId = this.hostId();
      const id = this.inspect().Id;
      untracked(() => {
        if (running) void this.loadProcesses(hostId, id);
        else this.processes.set(null);
      });
    });
  }

  protected refreshProcesses(): void {
    void this.loadProcesses(this.hostId(), this.inspect().Id);
  }

  private async loadProcesses(hostId: string, id: string): Promise<void> {
    try {
      this.processes.set(await this.engine.get<Processes>(hostId, `/containers/${encodeURIComponent(id)}/top`));
      this.processesError.set(null);
    } catch (error) {
      this.processesError.set(error instanceof Error ? error.message : String(error));
    }
  }

  private stateText(inspect: ContainerInspect): string {
    const state = inspect.State;
    if (!state) return 'unknown';
    if (state.Running) return `running since ${state.StartedAt ?? '?'}`;
    const exit = state.ExitCode !== undefined ? ` (exit code ${state.ExitCode})` : '';
    return `${state.Status ?? 'stopped'}${exit}${state.Error ? `: ${state.Error}` : ''}`;
  }
}
