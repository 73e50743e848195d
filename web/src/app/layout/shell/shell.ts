import { ChangeDetectionStrategy, Component, DestroyRef, inject } from '@angular/core';
import { BreakpointObserver } from '@angular/cdk/layout';
import { toSignal } from '@angular/core/rxjs-interop';
import { MatButtonModule } from '@angular/material/button';
import { MatMenuModule } from '@angular/material/menu';
import { MatSnackBar } from '@angular/material/snack-bar';
import { MatToolbarModule } from '@angular/material/toolbar';
import { RouterLink, RouterLinkActive, RouterOutlet } from '@angular/router';
import { map } from 'rxjs';

import { Session } from '../../core/auth/session';
import { errorMessage } from '../../core/errors/error-message';
import { ConsoleSocket } from '../../core/realtime/console-socket';
import { ConnectionIndicator } from './connection-indicator';
import { Theme } from './theme';

/** Below this width the toolbar's navigation folds into a menu. */
const NARROW = '(max-width: 759.98px)';

/** The frame around every signed-in page. It owns the live connection: open while signed in. */
@Component({
  selector: 'skiff-shell',
  imports: [
    RouterOutlet,
    RouterLink,
    RouterLinkActive,
    MatToolbarModule,
    MatButtonModule,
    MatMenuModule,
    ConnectionIndicator,
  ],
  templateUrl: './shell.html',
  styleUrl: './shell.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class Shell {
  private readonly session = inject(Session);
  private readonly snackBar = inject(MatSnackBar);

  protected readonly theme = inject(Theme);
  protected readonly narrow = toSignal(
    inject(BreakpointObserver)
      .observe(NARROW)
      .pipe(map((state) => state.matches)),
    { initialValue: false },
  );

  protected readonly user = this.session.user;
  protected readonly nav = [
    { path: '/dashboard', label: 'Dashboard' },
    { path: '/hosts', label: 'Hosts' },
    { path: '/containers', label: 'Containers' },
    { path: '/images', label: 'Images' },
    { path: '/volumes', label: 'Volumes' },
    { path: '/networks', label: 'Networks' },
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
