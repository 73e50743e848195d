import { inject } from '@angular/core';
import { Router, type CanActivateFn } from '@angular/router';

import { errorMessage } from '../errors/error-message';
import { Session } from './session';

/** Lets signed-in users through; sends everyone else to /login, remembering where they wanted to go. */
export const requireSession: CanActivateFn = async (_route, state) => {
  const session = inject(Session);
  const router = inject(Router);
  try {
    if (await session.restore()) {
      return true;
    }
  } catch (error) {
    session.leaveNotice(errorMessage(error));
  }
  return router.createUrlTree(['/login'], { queryParams: { returnUrl: state.url } });
};

/** The sign-in page is pointless while signed in: go to the dashboard instead. */
export const redirectSignedIn: CanActivateFn = async () => {
  const session = inject(Session);
  const router = inject(Router);
  try {
    if (session.signedIn() || (await session.restore())) return router.createUrlTree(['/']);
  } catch {
    // The server cannot say: the sign-in page is the place to find out.
  }
  return true;
};
