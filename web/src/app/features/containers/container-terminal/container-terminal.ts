import {
  ChangeDetectionStrategy,
  Component,
  DestroyRef,
  ElementRef,
  ViewEncapsulation,
  inject,
  input,
  signal,
  viewChild,
} from '@angular/core';
import { FormsModule } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatSelectModule } from '@angular/material/select';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import type { Subscription } from 'rxjs';

import { EngineApi, enginePath } from '../../../core/engine/engine-api';
import { errorMessage } from '../../../core/errors/error-message';
import { ConsoleSocket } from '../../../core/realtime/console-socket';
import type { ConsoleStream } from '../../../core/realtime/console-stream';

export const SHELLS = ['sh', 'bash', 'ash'] as const;
type Shell = (typeof SHELLS)[number];
type Status = 'idle' | 'connecting' | 'open' | 'ended' | 'failed';

/** A resize costs an Engine API call: wait until the window stops moving. */
const RESIZE_DELAY_MS = 150;

/** A shell in the container: exec with a TTY, both ways over the console socket, in xterm.js. */
@Component({
  selector: 'skiff-container-terminal',
  imports: [FormsModule, MatButtonModule, MatFormFieldModule, MatSelectModule],
  templateUrl: './container-terminal.html',
  styleUrl: './container-terminal.scss',
  // xterm.js builds its own DOM, which emulated encapsulation would not style.
  encapsulation: ViewEncapsulation.None,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ContainerTerminal {
  readonly hostId = input.required<string>();
  readonly containerId = input.required<string>();
  readonly running = input(true);

  private readonly engine = inject(EngineApi);
  private readonly socket = inject(ConsoleSocket);
  private readonly screen = viewChild.required<ElementRef<HTMLElement>>('screen');

  protected readonly shells = SHELLS;
  protected readonly shell = signal<Shell>('sh');
  protected readonly status = signal<Status>('idle');
  protected readonly error = signal<string | null>(null);

  private terminal: Terminal | undefined;
  private fit: FitAddon | undefined;
  private session: { execId: string; stream: ConsoleStream; subscription: Subscription } | undefined;
  private resizeObserver: ResizeObserver | undefined;
  private resizeTimer: ReturnType<typeof setTimeout> | undefined;
  private lastSize = '';

  constructor() {
    inject(DestroyRef).onDestroy(() => {
      this.disconnect();
      this.resizeObserver?.disconnect();
      clearTimeout(this.resizeTimer);
      this.terminal?.dispose();
    });
  }

  async connect(): Promise<void> {
    this.disconnect();
    this.status.set('connecting');
    this.error.set(null);
    const terminal = this.ensureTerminal();
    terminal.reset();
    const hostId = this.hostId();
    try {
      const exec = await this.engine.post<{ Id: string }>(
        hostId,
        `/containers/${encodeURIComponent(this.containerId())}/exec`,
        {
          AttachStdin: true,
          AttachStdout: true,
          AttachStderr: true,
          Tty: true,
          Env: ['TERM=xterm-256color'],
          Cmd: [this.shell()],
        },
      );
      const { head, stream } = await this.socket.openEngine({
        hostId,
        method: 'POST',
        path: enginePath(`/exec/${encodeURIComponent(exec.Id)}/start`),
        body: { Detach: false, Tty: true },
      });
      if (head.status >= 400) {
        stream.close();
        throw new Error(`the host answered HTTP ${head.status}`);
      }
      const subscription = stream.received.subscribe({
        next: (chunk) => terminal.write(chunk),
        complete: () => this.ended('\r\n[session ended]\r\n'),
        error: (error: unknown) => {
          this.ended(`\r\n[connection lost: ${errorMessage(error)}]\r\n`);
          this.status.set('failed');
          this.error.set(errorMessage(error));
        },
      });
      this.session = { execId: exec.Id, stream, subscription };
      this.status.set('open');
      this.lastSize = '';
      this.fitNow();
      terminal.focus();
    } catch (error) {
      this.status.set('failed');
      this.error.set(errorMessage(error));
    }
  }

  disconnect(): void {
    const session = this.session;
    this.session = undefined;
    session?.subscription.unsubscribe();
    session?.stream.close();
    if (session && this.status() === 'open') this.status.set('ended');
  }

  private ended(message: string): void {
    this.terminal?.write(message);
    this.session?.stream.close();
    this.session = undefined;
    this.status.set('ended');
  }

  private ensureTerminal(): Terminal {
    if (this.terminal) return this.terminal;
    const terminal = new Terminal({
      cursorBlink: true,
      fontFamily: "ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace",
      fontSize: 13,
      scrollback: 5_000,
      screenReaderMode: false,
    });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(this.screen().nativeElement);
    terminal.onData((data) => this.session?.stream.write(data));
    terminal.onBinary((data) => this.session?.stream.write(Uint8Array.from(data, (char) => char.charCodeAt(0))));
    this.resizeObserver = new ResizeObserver(() => {
      clearTimeout(this.resizeTimer);
      this.resizeTimer = setTimeout(() => this.fitNow(), RESIZE_DELAY_MS);
    });
    this.resizeObserver.observe(this.screen().nativeElement);
    this.terminal = terminal;
    this.fit = fit;
    return terminal;
  }

  /** Fits the terminal to its box and tells the exec its new size. */
  private fitNow(): void {
    const terminal = this.terminal;
    if (!terminal || !this.fit || this.screen().nativeElement.clientWidth === 0) return;
    this.fit.fit();
    const session = this.session;
    const size = `${terminal.rows}x${terminal.cols}`;
    if (!session || size === this.lastSize) return;
    this.lastSize = size;
    this.engine
      .post(this.hostId(), `/exec/${encodeURIComponent(session.execId)}/resize?h=${terminal.rows}&w=${terminal.cols}`)
      // A failed resize leaves the old size; the session goes on.
      .catch(() => (this.lastSize = ''));
  }
}
