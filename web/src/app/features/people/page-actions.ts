import { signal } from '@angular/core';
import type { MatSnackBar } from '@angular/material/snack-bar';

import { errorMessage } from '../../core/errors/error-message';

/**
 * What a People page does with a change: one at a time, the server's refusal shown on the page
 * in its own words (e.g. "cannot delete the last user with user.manage"), a short note when it worked.
 */
export class PageActions {
  private readonly running = signal(false);
  private readonly failure = signal<string | null>(null);

  readonly busy = this.running.asReadonly();
  /** Why the last change failed, as the server said it. */
  readonly error = this.failure.asReadonly();

  constructor(private readonly snackBar: MatSnackBar) {}

  /** Resolves true when `work` succeeded. */
  async run(work: () => Promise<unknown>, done?: string): Promise<boolean> {
    if (this.running()) {
      return false;
    }
    this.running.set(true);
    this.failure.set(null);
    try {
      await work();
      if (done) {
        this.snackBar.open(done, 'Dismiss', { duration: 4000 });
      }
      return true;
    } catch (error) {
      this.failure.set(errorMessage(error));
      return false;
    } finally {
      this.running.set(false);
    }
  }

  dismiss(): void {
    this.failure.set(null);
  }
}
