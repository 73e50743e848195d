import { HttpClient, HttpEventType, HttpHeaders } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, computed, effect, inject, signal, untracked } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCheckboxModule } from '@angular/material/checkbox';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatTooltipModule } from '@angular/material/tooltip';

import { Permissions } from '../../../core/access/permissions';
import { EngineApi, enginePath, engineErrorMessage } from '../../../core/engine/engine-api';
import { errorMessage } from '../../../core/errors/error-message';
import { formatByteSize } from '../../../shared/format/byte-size';
import { EngineHostPicker } from '../engine-host-picker';
import { JsonView, readable } from '../json-view';

interface ImageSummary {
  Id: string;
  RepoTags?: string[] | null;
  Size: number;
  Created: number;
}

interface ImageRow {
  id: string;
  /** The first tag, or the short id of an untagged image. */
  name: string;
  shortId: string;
  tags: string[];
  size: string;
  created: string;
}

interface Inspected {
  id: string;
  value: Record<string, unknown>;
  facts: { label: string; value: string }[];
}

@Component({
  selector: 'skiff-image-list',
  imports: [
    FormsModule,
    MatButtonModule,
    MatCheckboxModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatTooltipModule,
    EngineHostPicker,
    JsonView,
  ],
  templateUrl: './image-list.html',
  styleUrl: '../../run/engine-pages.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ImageList {
  private readonly engine = inject(EngineApi);
  private readonly http = inject(HttpClient);
  protected readonly permissions = inject(Permissions);

  protected readonly hostId = signal('');
  protected readonly images = signal<ImageSummary[] | null>(null);
  protected readonly loading = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly message = signal<string | null>(null);
  protected readonly actionError = signal<string | null>(null);
  protected readonly inspected = signal<Inspected | null>(null);
  protected readonly tagging = signal<string | null>(null);
  protected readonly tagRepo = signal('');
  protected readonly tagTag = signal('latest');
  protected readonly force = signal(false);
  protected readonly loadProgress = signal<{ percent: number | null; lines: string[] } | null>(null);

  protected readonly manageReason = computed(() => this.permissions.reason('image.manage', this.hostId()));
  protected readonly rows = computed<ImageRow[]>(() =>
    (this.images() ?? [])
      .map((image) => {
        const shortId = image.Id.replace(/^sha256:/, '').slice(0, 12);
        const tags = (image.RepoTags ?? []).filter((tag) => tag !== '<none>:<none>');
        return {
          id: image.Id,
          name: tags[0] ?? shortId,
          shortId,
          tags,
          size: formatByteSize(image.Size),
          created: new Date(image.Created * 1000).toLocaleString(),
        };
      })
      .sort((a, b) => (a.tags[0] ?? '~').localeCompare(b.tags[0] ?? '~')),
  );

  constructor() {
    effect(() => {
      const hostId = this.hostId();
      untracked(() => {
        this.inspected.set(null);
        this.tagging.set(null);
        void this.reload(hostId);
      });
    });
  }

  protected async reload(hostId = this.hostId()): Promise<void> {
    this.images.set(null);
    if (!hostId) return;
    this.loading.set(true);
    this.error.set(null);
    try {
      const images = await this.engine.get<ImageSummary[]>(hostId, '/images/json');
      if (hostId === this.hostId()) this.images.set(images);
    } catch (error) {
      if (hostId === this.hostId()) this.error.set(errorMessage(error));
    } finally {
      this.loading.set(false);
    }
  }

  protected async inspect(row: ImageRow): Promise<void> {
    if (this.inspected()?.id === row.id) {
      this.inspected.set(null);
      return;
    }
    this.actionError.set(null);
    try {
      const value = await this.engine.get<Record<string, unknown>>(
        this.hostId(),
        `/images/${encodeURIComponent(row.id)}/json`,
      );
      const config = (value['Config'] ?? {}) as Record<string, unknown>;
      this.inspected.set({
        id: row.id,
        value,
        facts: [
          { label: 'Id', value: readable(value['Id']) },
          { label: 'Tags', value: readable(value['RepoTags']) },
          { label: 'Created', value: readable(value['Created']) },
          { label: 'Platform', value: `${readable(value['Os'])}/${readable(value['Architecture'])}` },
          { label: 'Size', value: formatByteSize(Number(value['Size'] ?? 0)) },
          { label: 'Entrypoint', value: readable(config['Entrypoint']) },
          { label: 'Command', value: readable(config['Cmd']) },
          { label: 'Environment', value: readable(config['Env']) },
          { label: 'Working directory', value: readable(config['WorkingDir']) },
          { label: 'User', value: readable(config['User']) },
          { label: 'Exposed ports', value: readable(config['ExposedPorts']) },
          { label: 'Labels', value: readable(config['Labels']) },
        ],
      });
    } catch (error) {
      this.actionError.set(`Could not inspect ${row.name}: ${errorMessage(error)}`);
    }
  }

  protected startTag(row: ImageRow): void {
    this.tagging.set(row.id);
    this.tagRepo.set(row.tags[0]?.replace(/:[^:/]+$/, '') ?? '');
    this.tagTag.set('latest');
  }

  protected async tag(row: ImageRow): Promise<void> {
    const repo = this.tagRepo().trim();
    const tag = this.tagTag().trim() || 'latest';
    if (!repo) {
      this.actionError.set('Give the repository of the new tag, e.g. myapp.');
      return;
    }
    this.actionError.set(null);
    try {
      await this.engine.post(
        this.hostId(),
        `/images/${encodeURIComponent(row.id)}/tag?repo=${encodeURIComponent(repo)}&tag=${encodeURIComponent(tag)}`,
      );
      this.message.set(`Tagged ${row.shortId} as ${repo}:${tag}.`);
      this.tagging.set(null);
      await this.reload();
    } catch (error) {
      this.actionError.set(`Could not tag: ${errorMessage(error)}`);
    }
  }

  protected async remove(row: ImageRow): Promise<void> {
    const name = row.name;
    if (!confirm(`Remove image ${name}${this.force() ? ' (forced)' : ''}?`)) return;
    this.actionError.set(null);
    try {
      // By the name the row shows and the prompt named: an image with several names loses only that
      // one (by id the engine refuses: "referenced in multiple repositories"); an untagged one goes by id.
      const target = row.tags[0] ?? row.id;
      await this.engine.delete(this.hostId(), `/images/${encodeURIComponent(target)}${this.force() ? '?force=1' : ''}`);
      this.message.set(`Removed ${name}.`);
      await this.reload();
    } catch (error) {
      this.actionError.set(`Could not remove ${name}: ${errorMessage(error)}`);
    }
  }

  protected loadArchive(input: HTMLInputElement): void {
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    const hostId = this.hostId();
    this.actionError.set(null);
    this.message.set(null);
    this.loadProgress.set({ percent: 0, lines: [] });
    const url = `/api/hosts/${encodeURIComponent(hostId)}/engine${enginePath('/images/load')}`;
    this.http
      .post(url, file, {
        headers: new HttpHeaders({ 'Content-Type': 'application/x-tar' }),
        observe: 'events',
        reportProgress: true,
        responseType: 'text',
      })
      .subscribe({
        next: (event) => {
          if (event.type === HttpEventType.UploadProgress) {
            const percent = event.total ? Math.round((100 * event.loaded) / event.total) : null;
            this.loadProgress.update((progress) => ({ lines: progress?.lines ?? [], percent }));
          } else if (event.type === HttpEventType.DownloadProgress && event.partialText !== undefined) {
            this.loadProgress.set({ percent: 100, lines: jsonLines(event.partialText) });
          } else if (event.type === HttpEventType.Response) {
            const lines = jsonLines(event.body ?? '');
            const failed = lines.find((line) => line.startsWith('Error: '));
            this.loadProgress.set(null);
            if (failed) this.actionError.set(`Could not load ${file.name}: ${failed.slice(7)}`);
            else this.message.set(lines.length ? lines.join('\n') : `Loaded ${file.name}.`);
            void this.reload();
          }
        },
        error: (error: unknown) => {
          this.loadProgress.set(null);
          this.actionError.set(`Could not load ${file.name}: ${engineErrorMessage(error)}`);
        },
      });
  }
}

/** The engine's JSON lines (`{"stream":"Loaded image: busybox:latest\n"}`, `{"error":…}`) as text. */
function jsonLines(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .flatMap((line) => {
      try {
        const message = JSON.parse(line) as { stream?: string; status?: string; progress?: string; error?: string };
        if (message.error) return [`Error: ${message.error}`];
        const shown = [message.status, message.progress, message.stream?.trim()].filter(Boolean).join(' ');
        return shown ? [shown] : [];
      } catch {
        return [];
      }
    });
}
