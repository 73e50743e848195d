import { ChangeDetectionStrategy, Component } from '@angular/core';
import { RouterLink } from '@angular/router';

/** Where the People lists send those without user.manage. */
@Component({
  selector: 'skiff-people-forbidden',
  imports: [RouterLink],
  template: `
    <section class="empty-state" data-testid="people-forbidden" aria-labelledby="forbidden-heading">
      <h2 id="forbidden-heading">You need user.manage</h2>
      <p>
        Users, teams, roles, host groups and grants are managed by holders of the <code>user.manage</code> permission,
        which you do not have. Ask an administrator to grant you a role that includes it.
      </p>
      <p>
        You can still manage your own password, two-factor sign-in and API tokens under
        <a routerLink="/people/account">My account</a>.
      </p>
    </section>
  `,
  styleUrl: './people-pages.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class PeopleForbidden {}
