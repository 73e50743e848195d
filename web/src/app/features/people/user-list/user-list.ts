import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { DatePipe } from '@angular/common';
import { FormGroupDirective, NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSnackBar } from '@angular/material/snack-bar';
import { MatTableModule } from '@angular/material/table';

import { errorMessage } from '../../../core/errors/error-message';
import { confirmAction } from '../confirm-dialog';
import { newPasswordValidators } from '../new-password';
import { PageActions } from '../page-actions';
import { PeopleApi } from '../people-api';
import { MIN_PASSWORD_LENGTH, USERNAME_PATTERN, type UserAccount } from '../people-dtos';

@Component({
  selector: 'skiff-user-list',
  imports: [
    DatePipe,
    ReactiveFormsModule,
    MatButtonModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatTableModule,
  ],
  templateUrl: './user-list.html',
  styleUrl: '../people-pages.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class UserList {
  private readonly api = inject(PeopleApi);
  private readonly dialog = inject(MatDialog);
  private readonly fb = inject(NonNullableFormBuilder);
  protected readonly actions = new PageActions(inject(MatSnackBar));

  protected readonly minPassword = MIN_PASSWORD_LENGTH;
  protected readonly columns = ['username', 'status', 'totp', 'created', 'actions'] as const;
  protected readonly users = signal<UserAccount[] | null>(null);
  protected readonly loadError = signal<string | null>(null);
  /** The user whose password is being set. */
  protected readonly resetting = signal<UserAccount | null>(null);

  protected readonly createForm = this.fb.group({
    username: ['', [Validators.required, Validators.pattern(USERNAME_PATTERN)]],
    password: ['', newPasswordValidators],
  });
  protected readonly resetForm = this.fb.group({ password: ['', newPasswordValidators] });

  constructor() {
    void this.reload();
  }

  protected async reload(): Promise<void> {
    try {
      this.users.set(await this.api.users());
      this.loadError.set(null);
    } catch (error) {
      this.loadError.set(errorMessage(error));
    }
  }

  protected async create(form: FormGroupDirective): Promise<void> {
    if (this.createForm.invalid) {
      this.createForm.markAllAsTouched();
      return;
    }
    const { username, password } = this.createForm.getRawValue();
    if (await this.actions.run(() => this.api.createUser(username, password), `Created user ${username}.`)) {
      form.resetForm({ username: '', password: '' });
      await this.reload();
    }
  }

  protected async setDisabled(user: UserAccount, disabled: boolean): Promise<void> {
    const verb = disabled ? 'Disabled' : 'Enabled';
    if (await this.actions.run(() => this.api.setDisabled(user.id, disabled), `${verb} ${user.username}.`)) {
      await this.reload();
    }
  }

  protected startReset(user: UserAccount): void {
    this.resetForm.reset({ password: '' });
    this.resetting.set(user);
  }

  protected async resetPassword(form: FormGroupDirective): Promise<void> {
    const user = this.resetting();
    if (!user) {
      return;
    }
    if (this.resetForm.invalid) {
      this.resetForm.markAllAsTouched();
      return;
    }
    const { password } = this.resetForm.getRawValue();
    const done = `Set a new password for ${user.username}; their sessions have ended.`;
    if (await this.actions.run(() => this.api.resetPassword(user.id, password), done)) {
      form.resetForm({ password: '' });
      this.resetting.set(null);
    }
  }

  protected async clearTotp(user: UserAccount): Promise<void> {
    const confirmed = await confirmAction(this.dialog, {
      title: `Turn off two-factor sign-in for ${user.username}?`,
      message: 'They will sign in with their password alone until they set it up again.',
      confirm: 'Turn off',
    });
    if (
      confirmed &&
      (await this.actions.run(() => this.api.clearTotp(user.id), `Two-factor sign-in is off for ${user.username}.`))
    ) {
      await this.reload();
    }
  }

  protected async remove(user: UserAccount): Promise<void> {
    const confirmed = await confirmAction(this.dialog, {
      title: `Delete ${user.username}?`,
      message: 'Their sessions, API tokens, team memberships and grants go with them. Their audit rows stay.',
      confirm: `Delete ${user.username}`,
    });
    if (confirmed && (await this.actions.run(() => this.api.deleteUser(user.id), `Deleted ${user.username}.`))) {
      if (this.resetting()?.id === user.id) {
        this.resetting.set(null);
      }
      await this.reload();
    }
  }
}
