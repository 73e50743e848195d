import { ChangeDetectionStrategy, Component, type ElementRef, inject, signal, viewChild } from '@angular/core';
import { FormGroupDirective, NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCardModule } from '@angular/material/card';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { ActivatedRoute, Router } from '@angular/router';

import { Session } from '../../../core/auth/session';
import { errorMessage } from '../../../core/errors/error-message';

const HOME = '/hosts';

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
  });
  private readonly formDirective = viewChild.required(FormGroupDirective);
  private readonly passwordInput = viewChild.required<ElementRef<HTMLInputElement>>('password');

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
    try {
      await this.session.signIn(this.form.getRawValue());
      await this.router.navigateByUrl(this.returnUrl());
    } catch (error) {
      this.message.set(errorMessage(error));
      // resetForm also clears the "submitted" state, so the emptied password is not shown as an error.
      this.formDirective().resetForm({ username: this.form.controls.username.value, password: '' });
      this.passwordInput().nativeElement.focus();
    } finally {
      this.pending.set(false);
    }
  }

  /** Only paths inside the console: an absolute or protocol-relative URL here would be an open redirect. */
  private returnUrl(): string {
    const wanted = this.route.snapshot.queryParamMap.get('returnUrl');
    return wanted && wanted.startsWith('/') && !wanted.startsWith('//') && !wanted.startsWith('/login') ? wanted : HOME;
  }
}
