import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatTabsModule } from '@angular/material/tabs';
import { RouterLink, RouterLinkActive, RouterOutlet } from '@angular/router';

import { errorMessage } from '../../../core/errors/error-message';
import { PeopleApi } from '../people-api';

const MANAGED_TABS = [
  { path: 'users', label: 'Users' },
  { path: 'teams', label: 'Teams' },
  { path: 'roles', label: 'Roles' },
  { path: 'host-groups', label: 'Host groups' },
  { path: 'grants', label: 'Grants' },
] as const;
const ACCOUNT_TAB = { path: 'account', label: 'My account' } as const;

/**
 * The frame of /people: its tabs. Users, teams, roles, host groups and grants need user.manage
 * (see require-user-manage.ts); "My account" is everyone's, so it is the only tab of the others.
 */
@Component({
  selector: 'skiff-people-page',
  imports: [RouterOutlet, RouterLink, RouterLinkActive, MatTabsModule, MatButtonModule, MatProgressBarModule],
  templateUrl: './people-page.html',
  styleUrl: './people-page.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class PeoplePage {
  private readonly api = inject(PeopleApi);

  /** null while asking the server. */
  protected readonly canManage = signal<boolean | null>(null);
  protected readonly loadError = signal<string | null>(null);

  protected readonly tabs = computed(() => (this.canManage() ? [...MANAGED_TABS, ACCOUNT_TAB] : [ACCOUNT_TAB]));

  constructor() {
    void this.load();
  }

  protected async load(): Promise<void> {
    this.loadError.set(null);
    try {
      const mine = await this.api.myPermissions();
      this.canManage.set(mine.global.includes('user.manage'));
    } catch (error) {
      this.loadError.set(errorMessage(error));
    }
  }
}
