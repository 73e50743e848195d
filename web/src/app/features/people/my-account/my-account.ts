import { Clipboard } from '@angular/cdk/clipboard';
import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { FormGroupDirective, NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCheckboxModule } from '@angular/material/checkbox';
import { MatDialog } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSnackBar } from '@angular/material/snack-bar';
import { MatTableModule } from '@angular/material/table';
import type { Permission } from '@skiff/protocol';
import { firstValueFrom } from 'rxjs';

import { AuthApi } from '../../../core/auth/auth-api';
import { errorMessage } from '../../../core/errors/error-message';
import { confirmAction } from '../confirm-dialog';
import { newPasswordValidators, passwordsMatch } from '../new-password';
import { PageActions } from '../page-actions';
import { PeopleApi } from '../people-api';
import {
  type ApiToken,
  type CreatedApiToken,
  MIN_PASSWORD_LENGTH,
  type NewApiToken,
  type PermissionInfo,
  type TotpEnrolment,
} from '../people-dtos';
import { PermissionPicker } from '../permission-picker';

const TOTP_CODE = /^\d{6}$/;

/** Everyone's own page: API tokens, password, two-factor sign-in. */
@Component({
  selector: 'skiff-my-account',
  imports: [
    DatePipe,
    ReactiveFormsModule,
    MatButtonModule,
    MatCheckboxModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatTableModule,
    PermissionPicker,
  ],
  templateUrl: './my-account.html',
  styleUrl: '../people-pages.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class MyAccount {
  private readonly api = inject(PeopleApi);
  private readonly dialog = inject(MatDialog);
  private readonly clipboard = inject(Clipboard);
  private readonly snackBar = inject(MatSnackBar);
  private readonly authApi = inject(AuthApi);
  private readonly fb = inject(NonNullableFormBuilder);
  protected readonly tokenActions = new PageActions(this.snackBar);
  protected readonly passwordActions = new PageActions(this.snackBar);
  protected readonly totpActions = new PageActions(this.snackBar);
  protected readonly minPassword = MIN_PASSWORD_LENGTH;

  protected readonly tokenColumns = [
    'name',
    'prefix',
    'permissions',
    'created',
    'expires',
    'lastUsed',
    'actions',
  ] as const;
  protected readonly tokens = signal<ApiToken[] | null>(null);
  protected readonly loadError = signal<string | null>(null);
  /** Only the permissions the caller holds somewhere: a token never exceeds its owner. */
  protected readonly heldPermissions = signal<PermissionInfo[]>([]);
  protected readonly tokenPermissions = signal<readonly Permission[]>([]);
  protected readonly pickError = signal(false);
  /** The token just made: shown this once, until the user closes it. */
  protected readonly created = signal<CreatedApiToken | null>(null);
  protected readonly enrolment = signal<TotpEnrolment | null>(null);
  /** Whether two-factor sign-in is on for this account; null until known. */
  protected readonly totpEnabled = signal<boolean | null>(null);

  protected readonly tokenForm = this.fb.group({
    name: ['', [Validators.required, Validators.maxLength(100)]],
    expiresAt: [''],
    limit: [false],
  });
  protected readonly limitTokens = toSignal(this.tokenForm.controls.limit.valueChanges, { initialValue: false });
  protected readonly passwordForm = this.fb.group(
    {
      currentPassword: ['', Validators.required],
      newPassword: ['', newPasswordValidators],
      repeat: ['', Validators.required],
    },
    { validators: passwordsMatch('newPassword', 'repeat') },
  );
  protected readonly confirmForm = this.fb.group({ code: ['', [Validators.required, Validators.pattern(TOTP_CODE)]] });
  protected readonly disableForm = this.fb.group({ code: ['', [Validators.required, Validators.pattern(TOTP_CODE)]] });

  constructor() {
    void this.reload();
  }

  protected async reload(): Promise<void> {
    try {
      const [tokens, catalogue, mine, me] = await Promise.all([
        this.api.tokens(),
        this.api.permissionCatalogue(),
        this.api.myPermissions(),
        firstValueFrom(this.authApi.me()),
      ]);
      this.totpEnabled.set(me.totpEnabled ?? false);
      const held = new Set<Permission>([...mine.global, ...mine.hostGroups.flatMap((group) => group.permissions)]);
      this.tokens.set(tokens);
      this.heldPermissions.set(catalogue.filter((permission) => held.has(permission.name)));
      this.loadError.set(null);
    } catch (error) {
      this.loadError.set(errorMessage(error));
    }
  }

  protected async createToken(form: FormGroupDirective): Promise<void> {
    const { name, expiresAt, limit } = this.tokenForm.getRawValue();
    this.pickError.set(limit && this.tokenPermissions().length === 0);
    if (this.tokenForm.invalid || this.pickError()) {
      this.tokenForm.markAllAsTouched();
      return;
    }
    const request: NewApiToken = {
      name: name.trim(),
      // datetime-local gives local wall time without a zone; Date reads it as local time.
      ...(expiresAt ? { expiresAt: new Date(expiresAt).toISOString() } : {}),
      ...(limit ? { permissions: [...this.tokenPermissions()] } : {}),
    };
    const ok = await this.tokenActions.run(async () => {
      this.created.set(await this.api.createToken(request));
    });
    if (ok) {
      form.resetForm({ name: '', expiresAt: '', limit: false });
      this.tokenPermissions.set([]);
      await this.reload();
    }
  }

  protected copyToken(token: string): void {
    const copied = this.clipboard.copy(token);
    this.snackBar.open(copied ? 'Token copied.' : 'Could not copy: select the token and copy it by hand.', 'Dismiss', {
      duration: 4000,
    });
  }

  protected async revoke(token: ApiToken): Promise<void> {
    const confirmed = await confirmAction(this.dialog, {
      title: `Revoke token ${token.name}?`,
      message: 'Anything that uses it stops working at once.',
      confirm: 'Revoke',
    });
    if (
      confirmed &&
      (await this.tokenActions.run(() => this.api.revokeToken(token.id), `Revoked token ${token.name}.`))
    ) {
      if (this.created()?.id === token.id) {
        this.created.set(null);
      }
      await this.reload();
    }
  }

  protected async changePassword(form: FormGroupDirective): Promise<void> {
    if (this.passwordForm.invalid) {
      this.passwordForm.markAllAsTouched();
      return;
    }
    const { currentPassword, newPassword } = this.passwordForm.getRawValue();
    const done = 'Password changed; your other sessions have ended.';
    if (await this.passwordActions.run(() => this.api.changePassword(currentPassword, newPassword), done)) {
      form.resetForm({ currentPassword: '', newPassword: '', repeat: '' });
    }
  }

  protected async startTotp(): Promise<void> {
    await this.totpActions.run(async () => {
      this.enrolment.set(await this.api.startTotp());
      this.confirmForm.reset({ code: '' });
    });
  }

  protected async confirmTotp(): Promise<void> {
    if (this.confirmForm.invalid) {
      this.confirmForm.markAllAsTouched();
      return;
    }
    const { code } = this.confirmForm.getRawValue();
    if (await this.totpActions.run(() => this.api.confirmTotp(code), 'Two-factor sign-in is on.')) {
      this.totpEnabled.set(true);
      this.enrolment.set(null);
    }
  }

  protected async disableTotp(form: FormGroupDirective): Promise<void> {
    if (this.disableForm.invalid) {
      this.disableForm.markAllAsTouched();
      return;
    }
    const { code } = this.disableForm.getRawValue();
    if (await this.totpActions.run(() => this.api.disableTotp(code), 'Two-factor sign-in is off.')) {
      this.totpEnabled.set(false);
      form.resetForm({ code: '' });
    }
  }
}
