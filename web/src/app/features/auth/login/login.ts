import { ChangeDetectionStrategy, Component, type ElementRef, inject, signal, viewChild } from '@angular/core';
import { FormGroupDirective, NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCardModule } from '@angular/material/card';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { HttpErrorResponse } from '@angular/common/http';
import { ActivatedRoute, Router } from '@angular/router';

import { Session } from '../../../core/auth/session';
import type { Credentials } from '../../../core/auth/session-info';
import { errorMessage } from '../../../core/errors/error-message';

const HOME = '/dashboard';
/** What the authenticator app shows: six digits (spaces people type are dropped before sending). */
const TOTP_PATTERN = /^\s*\d{3}\s?\d{3}\s*$/;

/** The login body; `totp` is sent only once the server said the account needs it. */
type LoginCredentials = Credentials & { totp?: string };

/** The server answers 401 with `totpRequired: true` when the password is right but a code is needed (or wrong). */
function needsTotp(error: unknown): boolean {
  return (
    error instanceof HttpErrorResponse &&
    error.status === 401 &&
    (error.error as { totpRequired?: unknown } | null)?.totpRequired === true
  );
}

@Component({
  selector: 'skiff-login',
  imports: [
    ReactiveFormsModule,
    MatButtonModule,
    MatCardModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
  ],
  templateUrl: './login.html',
  styleUrl: './login.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class Login {
  private readonly session = inject(Session);
  private readonly router = inject(Router);
  private readonly route = inject(ActivatedRoute);

  protected readonly form = inject(NonNullableFormBuilder).group({
    username: ['', Validators.required],
    password: ['', Validators.required],
    totp: [''],
  });
  private readonly formDirective = viewChild.required(FormGroupDirective);
  private readonly passwordInput = viewChild.required<ElementRef<HTMLInputElement>>('password');
  private readonly totpInput = viewChild<ElementRef<HTMLInputElement>>('totp');

  /** True once the server asked for a TOTP code for this account. */
  protected readonly totpRequired = signal(false);

  protected readonly pending = signal(false);
  /** Why sign-in failed, or why the user was sent here (e.g. an expired session). */
  protected readonly message = signal<string | null>(this.session.takeNotice());

  protected async submit(): Promise<void> {
    if (this.pending()) {
      return;
    }
    if (this.form.invalid) {
      this.form.markAllAsTouched();
      return;
    }
    this.pending.set(true);
    this.message.set(null);
    const { username, password, totp } = this.form.getRawValue();
    const credentials: LoginCredentials = { username, password };
    if (this.totpRequired()) credentials.totp = totp.replace(/\s/g, '');
    try {
      await this.session.signIn(credentials);
      await this.router.navigateByUrl(this.returnUrl());
    } catch (error) {
      if (needsTotp(error)) {
        const firstAsk = !this.totpRequired();
        this.requireTotp();
        this.message.set(
          firstAsk ? 'Enter the 6-digit code from your authenticator app to finish signing in.' : errorMessage(error),
        );
        // The password was right: keep it, and ask only for a (new) code.
        this.formDirective().resetForm({ username, password, totp: '' });
        setTimeout(() => this.totpInput()?.nativeElement.focus());
      } else {
        this.message.set(errorMessage(error));
        this.dropTotp();
        // resetForm also clears the "submitted" state, so the emptied password is not shown as an error.
        this.formDirective().resetForm({ username, password: '', totp: '' });
        this.passwordInput().nativeElement.focus();
      }
    } finally {
      this.pending.set(false);
    }
  }

  private requireTotp(): void {
    this.totpRequired.set(true);
    this.form.controls.totp.setValidators([Validators.required, Validators.pattern(TOTP_PATTERN)]);
    this.form.controls.totp.updateValueAndValidity();
  }

  private dropTotp(): void {
    this.totpRequired.set(false);
    this.form.controls.totp.clearValidators();
    this.form.controls.totp.updateValueAndValidity();
  }

  /** Only paths inside the console: an absolute or protocol-relative URL here would be an open redirect. */
  private returnUrl(): string {
    const wanted = this.route.snapshot.queryParamMap.get('returnUrl');
    return wanted && wanted.startsWith('/') && !wanted.startsWith('//') && !wanted.startsWith('/login') ? wanted : HOME;
  }
}
