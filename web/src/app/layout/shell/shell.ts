import { ChangeDetectionStrategy, Component, DestroyRef, inject } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MatSnackBar } from '@angular/material/snack-bar';
import { MatToolbarModule } from '@angular/material/toolbar';
import { RouterLink, RouterLinkActive, RouterOutlet } from '@angular/router';

import { Session } from '../../core/auth/session';
import { errorMessage } from '../../core/errors/error-message';
import { ConsoleSocket } from '../../core/realtime/console-socket';
import { ConnectionIndicator } from './connection-indicator';

/** The frame around every signed-in page. It owns the live connection: open while signed in. */
@Component({
  selector: 'skiff-shell',
  imports: [RouterOutlet, RouterLink, RouterLinkActive, MatToolbarModule, MatButtonModule, ConnectionIndicator],
  templateUrl: './shell.html',
  styleUrl: './shell.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class Shell {
  private readonly session = inject(Session);
  private readonly snackBar = inject(MatSnackBar);

  protected readonly user = this.session.user;
  protected readonly nav = [
    { path: '/hosts', label: 'Hosts' },
    { path: '/containers', label: 'Containers' },
    { path: '/people', label: 'People' },
    { path: '/audit', label: 'Audit' },
  ] as const;

  constructor() {
    const socket = inject(ConsoleSocket);
    socket.connect();
    inject(DestroyRef).onDestroy(() => socket.disconnect());
  }

  protected async signOut(): Promise<void> {
    try {
      await this.session.signOut();
    } catch (error) {
      this.snackBar.open(`Could not sign out: ${errorMessage(error)}`, 'Dismiss', { duration: 8000 });
    }
  }
}
