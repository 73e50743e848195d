import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { FormGroupDirective, NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatRadioModule } from '@angular/material/radio';
import { MatSelectModule } from '@angular/material/select';
import { MatSnackBar } from '@angular/material/snack-bar';
import { MatTableModule } from '@angular/material/table';

import { errorMessage } from '../../../core/errors/error-message';
import { confirmAction } from '../confirm-dialog';
import { PageActions } from '../page-actions';
import { PeopleApi } from '../people-api';
import type { Grant, GrantFilter, HostGroup, NewGrant, PermissionInfo, Role, Team, UserAccount } from '../people-dtos';

/** The value of "every host" in the scope select: mat-select cannot tell '' from "nothing chosen" nicely. */
const EVERY_HOST = 'every-host';

@Component({
  selector: 'skiff-grant-list',
  imports: [
    DatePipe,
    ReactiveFormsModule,
    MatButtonModule,
    MatFormFieldModule,
    MatProgressBarModule,
    MatRadioModule,
    MatSelectModule,
    MatTableModule,
  ],
  templateUrl: './grant-list.html',
  styleUrl: '../people-pages.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class GrantList {
  private readonly api = inject(PeopleApi);
  private readonly dialog = inject(MatDialog);
  private readonly fb = inject(NonNullableFormBuilder);
  protected readonly actions = new PageActions(inject(MatSnackBar));
  protected readonly everyHost = EVERY_HOST;

  protected readonly columns = ['subject', 'role', 'scope', 'created', 'actions'] as const;
  protected readonly grants = signal<Grant[] | null>(null);
  protected readonly users = signal<UserAccount[]>([]);
  protected readonly teams = signal<Team[]>([]);
  protected readonly roles = signal<Role[]>([]);
  protected readonly groups = signal<HostGroup[]>([]);
  private readonly catalogue = signal<PermissionInfo[]>([]);
  protected readonly loadError = signal<string | null>(null);

  protected readonly filters = this.fb.group({ userId: [''], teamId: [''], roleId: [''], hostGroupId: [''] });
  protected readonly createForm = this.fb.group({
    subjectType: this.fb.control<'user' | 'team'>('user'),
    userId: [''],
    teamId: [''],
    roleId: ['', Validators.required],
    scope: [EVERY_HOST, Validators.required],
  });
  private readonly subjectType = toSignal(this.createForm.controls.subjectType.valueChanges, {
    initialValue: this.createForm.controls.subjectType.value,
  });
  protected readonly subjectIsUser = computed(() => this.subjectType() === 'user');
  private readonly chosenRole = toSignal(this.createForm.controls.roleId.valueChanges, { initialValue: '' });
  private readonly chosenScope = toSignal(this.createForm.controls.scope.valueChanges, { initialValue: EVERY_HOST });
  /** Permissions of a role on a host group that count only on every host (people, audit). */
  protected readonly globalOnlyOnGroup = computed(() => {
    if (this.chosenScope() === EVERY_HOST) {
      return [];
    }
    const role = this.roles().find((candidate) => candidate.id === this.chosenRole());
    const hostScoped = new Set(
      this.catalogue()
        .filter((p) => p.hostScoped)
        .map((p) => p.name),
    );
    return role?.permissions.filter((permission) => !hostScoped.has(permission)) ?? [];
  });
  protected readonly subjectMissing = signal(false);

  constructor() {
    void this.reload();
  }

  protected async reload(): Promise<void> {
    try {
      const [users, teams, roles, groups, catalogue] = await Promise.all([
        this.api.users(),
        this.api.teams(),
        this.api.roles(),
        this.api.hostGroups(),
        this.api.permissionCatalogue(),
      ]);
      this.users.set(users);
      this.teams.set(teams);
      this.roles.set(roles);
      this.groups.set(groups);
      this.catalogue.set(catalogue);
      await this.loadGrants();
    } catch (error) {
      this.loadError.set(errorMessage(error));
    }
  }

  protected async loadGrants(): Promise<void> {
    try {
      const filter: GrantFilter = this.filters.getRawValue();
      this.grants.set(await this.api.grants(filter));
      this.loadError.set(null);
    } catch (error) {
      this.loadError.set(errorMessage(error));
    }
  }

  protected async clearFilters(): Promise<void> {
    this.filters.reset({ userId: '', teamId: '', roleId: '', hostGroupId: '' });
    await this.loadGrants();
  }

  protected async create(form: FormGroupDirective): Promise<void> {
    const value = this.createForm.getRawValue();
    const subjectId = value.subjectType === 'user' ? value.userId : value.teamId;
    this.subjectMissing.set(!subjectId);
    if (this.createForm.invalid || !subjectId) {
      this.createForm.markAllAsTouched();
      return;
    }
    const grant: NewGrant = {
      roleId: value.roleId,
      ...(value.subjectType === 'user' ? { userId: subjectId } : { teamId: subjectId }),
      ...(value.scope === EVERY_HOST ? {} : { hostGroupId: value.scope }),
    };
    const role = this.roles().find((candidate) => candidate.id === value.roleId)?.name ?? 'the role';
    const subject =
      value.subjectType === 'user'
        ? this.users().find((user) => user.id === subjectId)?.username
        : `team ${this.teams().find((team) => team.id === subjectId)?.name ?? ''}`;
    if (await this.actions.run(() => this.api.createGrant(grant), `Gave ${role} to ${subject ?? 'them'}.`)) {
      form.resetForm({ subjectType: value.subjectType, userId: '', teamId: '', roleId: '', scope: EVERY_HOST });
      await this.loadGrants();
    }
  }

  protected subjectOf(grant: Grant): string {
    return grant.user ? grant.user.username : grant.team ? `team ${grant.team.name}` : '—';
  }

  protected async remove(grant: Grant): Promise<void> {
    const subject = this.subjectOf(grant);
    const confirmed = await confirmAction(this.dialog, {
      title: `Take ${grant.role.name} from ${subject}?`,
      message: 'What the role gave them stops at once.',
      confirm: 'Take back',
    });
    if (
      confirmed &&
      (await this.actions.run(() => this.api.deleteGrant(grant.id), `Took ${grant.role.name} from ${subject}.`))
    ) {
      await this.loadGrants();
    }
  }
}
