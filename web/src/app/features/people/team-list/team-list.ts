import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { FormGroupDirective, NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSelectModule } from '@angular/material/select';
import { MatSnackBar } from '@angular/material/snack-bar';
import { MatTableModule } from '@angular/material/table';

import { errorMessage } from '../../../core/errors/error-message';
import { confirmAction } from '../confirm-dialog';
import { PageActions } from '../page-actions';
import { PeopleApi } from '../people-api';
import {
  DISPLAY_NAME_PATTERN,
  MAX_DESCRIPTION_LENGTH,
  type Team,
  type TeamDetail,
  type UserAccount,
} from '../people-dtos';

@Component({
  selector: 'skiff-team-list',
  imports: [
    DatePipe,
    ReactiveFormsModule,
    MatButtonModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatSelectModule,
    MatTableModule,
  ],
  templateUrl: './team-list.html',
  styleUrl: '../people-pages.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class TeamList {
  private readonly api = inject(PeopleApi);
  private readonly dialog = inject(MatDialog);
  private readonly fb = inject(NonNullableFormBuilder);
  protected readonly actions = new PageActions(inject(MatSnackBar));

  protected readonly columns = ['name', 'description', 'members', 'created', 'actions'] as const;
  protected readonly teams = signal<Team[] | null>(null);
  protected readonly users = signal<UserAccount[]>([]);
  protected readonly loadError = signal<string | null>(null);
  /** The team open for editing, with its members. */
  protected readonly open = signal<TeamDetail | null>(null);
  protected readonly nonMembers = computed(() => {
    const members = new Set(this.open()?.members.map((member) => member.id) ?? []);
    return this.users().filter((user) => !members.has(user.id));
  });

  private readonly teamFields = () => ({
    name: ['', [Validators.required, Validators.pattern(DISPLAY_NAME_PATTERN)]],
    description: ['', Validators.maxLength(MAX_DESCRIPTION_LENGTH)],
  });
  protected readonly createForm = this.fb.group(this.teamFields());
  protected readonly editForm = this.fb.group(this.teamFields());
  protected readonly memberForm = this.fb.group({ userId: ['', Validators.required] });

  constructor() {
    void this.reload();
  }

  protected async reload(): Promise<void> {
    try {
      const [teams, users] = await Promise.all([this.api.teams(), this.api.users()]);
      this.teams.set(teams);
      this.users.set(users);
      this.loadError.set(null);
      const open = this.open();
      if (open) {
        this.open.set(teams.some((team) => team.id === open.id) ? await this.api.team(open.id) : null);
      }
    } catch (error) {
      this.loadError.set(errorMessage(error));
    }
  }

  protected async create(form: FormGroupDirective): Promise<void> {
    if (this.createForm.invalid) {
      this.createForm.markAllAsTouched();
      return;
    }
    const { name, description } = this.createForm.getRawValue();
    if (await this.actions.run(() => this.api.createTeam(name, description), `Created team ${name}.`)) {
      form.resetForm({ name: '', description: '' });
      await this.reload();
    }
  }

  protected async edit(team: Team): Promise<void> {
    await this.actions.run(async () => {
      const detail = await this.api.team(team.id);
      this.editForm.reset({ name: detail.name, description: detail.description });
      this.memberForm.reset({ userId: '' });
      this.open.set(detail);
    });
  }

  protected async save(): Promise<void> {
    const team = this.open();
    if (!team) {
      return;
    }
    if (this.editForm.invalid) {
      this.editForm.markAllAsTouched();
      return;
    }
    const { name, description } = this.editForm.getRawValue();
    if (await this.actions.run(() => this.api.updateTeam(team.id, name, description), `Saved team ${name}.`)) {
      await this.reload();
    }
  }

  protected async addMember(form: FormGroupDirective): Promise<void> {
    const team = this.open();
    const { userId } = this.memberForm.getRawValue();
    if (!team || !userId) {
      this.memberForm.markAllAsTouched();
      return;
    }
    const username = this.users().find((user) => user.id === userId)?.username ?? 'the user';
    if (await this.actions.run(() => this.api.addMember(team.id, userId), `Added ${username} to ${team.name}.`)) {
      form.resetForm({ userId: '' });
      await this.reload();
    }
  }

  protected async removeMember(userId: string, username: string): Promise<void> {
    const team = this.open();
    if (
      team &&
      (await this.actions.run(() => this.api.removeMember(team.id, userId), `Removed ${username} from ${team.name}.`))
    ) {
      await this.reload();
    }
  }

  protected async remove(team: Team): Promise<void> {
    const confirmed = await confirmAction(this.dialog, {
      title: `Delete team ${team.name}?`,
      message: 'Its grants go with it; its members stay, without what the team gave them.',
      confirm: `Delete ${team.name}`,
    });
    if (confirmed && (await this.actions.run(() => this.api.deleteTeam(team.id), `Deleted team ${team.name}.`))) {
      await this.reload();
    }
  }
}
