import { inject } from '@angular/core';
import { Router, type CanActivateFn } from '@angular/router';

import { PeopleApi } from './people-api';

/**
 * Users, teams, roles, host groups and grants need user.manage on every host. Without it the
 * page says so instead of opening a list whose every call the server would refuse (and audit).
 * If the server cannot be asked, the page opens and shows the error of its own calls.
 */
export const requireUserManage: CanActivateFn = async () => {
  const router = inject(Router);
  try {
    const mine = await inject(PeopleApi).myPermissions();
    return mine.global.includes('user.manage') ? true : router.createUrlTree(['/people/no-access']);
  } catch {
    return true;
  }
};
