import {
  ChangeDetectionStrategy,
  Component,
  DestroyRef,
  ElementRef,
  afterRenderEffect,
  computed,
  effect,
  inject,
  input,
  signal,
  untracked,
  viewChild,
} from '@angular/core';
import { FormsModule } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatButtonToggleModule } from '@angular/material/button-toggle';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatSlideToggleModule } from '@angular/material/slide-toggle';
import type { Subscription } from 'rxjs';

import { enginePath } from '../../../core/engine/engine-api';
import { LineSplitter, StdcopyDemuxer, type StdStream } from '../../../core/engine/stdcopy';
import { errorMessage } from '../../../core/errors/error-message';
import { ConsoleSocket } from '../../../core/realtime/console-socket';
import type { ConsoleStream } from '../../../core/realtime/console-stream';
import { LogBuffer, type LogLine } from './log-buffer';

/** Lines kept in memory; older ones are dropped. */
const KEPT_LINES = 5_000;
/** Lines in the page at once: the rest stay in memory and in the download. */
const RENDERED_LINES = 1_000;

type StreamFilter = 'all' | 'stdout' | 'stderr';
type Status = 'connecting' | 'following' | 'paused' | 'ended' | 'failed';

/** A container's log, followed live over the console socket. */
@Component({
  selector: 'skiff-container-logs',
  imports: [
    FormsModule,
    MatButtonModule,
    MatButtonToggleModule,
    MatFormFieldModule,
    MatInputModule,
    MatSlideToggleModule,
  ],
  templateUrl: './container-logs.html',
  styleUrl: './container-logs.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ContainerLogs {
  readonly hostId = input.required<string>();
  readonly containerId = input.required<string>();
  /** A TTY container's log is one raw stream, not stdcopy frames. */
  readonly tty = input(false);

  private readonly socket = inject(ConsoleSocket);
  private readonly viewport = viewChild<ElementRef<HTMLElement>>('viewport');

  private readonly buffer = new LogBuffer(KEPT_LINES);
  private readonly lines = signal<readonly LogLine[]>([]);
  protected readonly status = signal<Status>('connecting');
  protected readonly error = signal<string | null>(null);
  protected readonly streamFilter = signal<StreamFilter>('all');
  protected readonly showTimestamps = signal(false);
  protected readonly search = signal('');
  /** Follows the end unless the reader scrolled up. */
  private stickToBottom = true;

  protected readonly matching = computed(() => {
    const filter = this.streamFilter();
    const needle = this.search().trim().toLowerCase();
    return this.lines().filter(
      (line) => (filter === 'all' || line.stream === filter) && (!needle || line.text.toLowerCase().includes(needle)),
    );
  });
  protected readonly shown = computed(() => this.matching().slice(-RENDERED_LINES));
  protected readonly hiddenAbove = computed(() => this.matching().length - this.shown().length);
  protected readonly total = computed(() => this.lines().length);

  private stream: ConsoleStream | undefined;
  private subscription: Subscription | undefined;

  constructor() {
    effect(() => {
      const hostId = this.hostId();
      const containerId = this.containerId();
      const tty = this.tty();
      untracked(() => void this.follow(hostId, containerId, tty));
    });
    afterRenderEffect(() => {
      this.shown();
      const element = this.viewport()?.nativeElement;
      if (element && this.stickToBottom) element.scrollTop = element.scrollHeight;
    });
    inject(DestroyRef).onDestroy(() => this.stop());
  }

  protected onScroll(element: HTMLElement): void {
    this.stickToBottom = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
  }

  /** Pausing stops taking chunks: the server holds the rest (one window at most) until resumed. */
  protected togglePause(): void {
    if (this.status() === 'following') {
      this.stream?.pause();
      this.status.set('paused');
    } else if (this.status() === 'paused') {
      this.stream?.resume();
      this.status.set('following');
    }
  }

  protected reconnect(): void {
    void this.follow(this.hostId(), this.containerId(), this.tty());
  }

  protected clear(): void {
    this.buffer.clear();
    this.lines.set([]);
  }

  protected download(): void {
    const withTime = this.showTimestamps();
    const text = this.matching()
      .map((line) => (withTime && line.time ? `${line.time} ${line.text}` : line.text))
      .join('\n');
    const url = URL.createObjectURL(new Blob([`${text}\n`], { type: 'text/plain' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `${this.containerId().slice(0, 12)}-logs.txt`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1_000);
  }

  protected readonly trackLine = (line: LogLine): number => line.seq;

  private async follow(hostId: string, containerId: string, tty: boolean): Promise<void> {
    this.stop();
    this.buffer.clear();
    this.lines.set([]);
    this.status.set('connecting');
    this.error.set(null);
    try {
      const { head, stream } = await this.socket.openEngine({
        hostId,
        method: 'GET',
        path: enginePath(
          `/containers/${encodeURIComponent(containerId)}/logs?follow=1&stdout=1&stderr=1&timestamps=1&tail=500`,
        ),
      });
      if (head.status >= 400) {
        stream.close();
        throw new Error(`the host answered HTTP ${head.status}`);
      }
      this.stream = stream;
      this.status.set('following');
      const demuxer = tty ? null : new StdcopyDemuxer();
      const splitters: Record<StdStream, LineSplitter> = {
        stdin: new LineSplitter(),
        stdout: new LineSplitter(),
        stderr: new LineSplitter(),
      };
      this.subscription = stream.received.subscribe({
        next: (chunk) => {
          const frames = demuxer ? demuxer.push(chunk) : [{ stream: 'stdout' as const, payload: chunk }];
          for (const frame of frames) this.buffer.add(frame.stream, splitters[frame.stream].push(frame.payload));
          this.lines.set(this.buffer.snapshot());
        },
        complete: () => {
          for (const name of ['stdout', 'stderr'] as const) this.buffer.add(name, splitters[name].flush());
          this.lines.set(this.buffer.snapshot());
          this.status.set('ended');
        },
        error: (error: unknown) => {
          this.status.set('failed');
          this.error.set(errorMessage(error));
        },
      });
    } catch (error) {
      this.status.set('failed');
      this.error.set(errorMessage(error));
    }
  }

  private stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.stream?.close();
    this.stream = undefined;
  }
}
