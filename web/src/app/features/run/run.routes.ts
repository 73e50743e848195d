import type { Routes } from '@angular/router';

/** /run: the create / run form (`?host=` preselects a host). */
export const runRoutes: Routes = [
  {
    path: '',
    loadComponent: () => import('./run-form/run-form').then((m) => m.RunForm),
  },
];
