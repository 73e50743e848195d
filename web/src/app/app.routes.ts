import type { Routes } from '@angular/router';

import { redirectSignedIn, requireSession } from './core/auth/session-guards';

export const routes: Routes = [
  {
    path: 'login',
    title: 'Sign in · Skiff',
    canActivate: [redirectSignedIn],
    loadComponent: () => import('./features/auth/login/login').then((m) => m.Login),
  },
  {
    path: '',
    canActivate: [requireSession],
    loadComponent: () => import('./layout/shell/shell').then((m) => m.Shell),
    children: [
      { path: '', pathMatch: 'full', redirectTo: 'hosts' },
      {
        path: 'hosts',
        title: 'Hosts · Skiff',
        loadChildren: () => import('./features/hosts/hosts.routes').then((m) => m.hostsRoutes),
      },
      {
        path: 'containers',
        title: 'Containers · Skiff',
        loadChildren: () => import('./features/containers/containers.routes').then((m) => m.containersRoutes),
      },
      {
        path: 'people',
        title: 'People · Skiff',
        loadChildren: () => import('./features/people/people.routes').then((m) => m.peopleRoutes),
      },
      {
        path: 'audit',
        title: 'Audit log · Skiff',
        loadChildren: () => import('./features/audit/audit.routes').then((m) => m.auditRoutes),
      },
    ],
  },
  { path: '**', redirectTo: '' },
];
