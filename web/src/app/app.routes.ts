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
      { path: '', pathMatch: 'full', redirectTo: 'dashboard' },
      {
        path: 'dashboard',
        title: 'Dashboard · Skiff',
        loadChildren: () => import('./features/dashboard/dashboard.routes').then((m) => m.dashboardRoutes),
      },
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
        path: 'run',
        title: 'Run a container · Skiff',
        loadChildren: () => import('./features/run/run.routes').then((m) => m.runRoutes),
      },
      {
        path: 'images',
        title: 'Images · Skiff',
        loadChildren: () => import('./features/images/images.routes').then((m) => m.imagesRoutes),
      },
      {
        path: 'volumes',
        title: 'Volumes · Skiff',
        loadChildren: () => import('./features/volumes/volumes.routes').then((m) => m.volumesRoutes),
      },
      {
        path: 'networks',
        title: 'Networks · Skiff',
        loadChildren: () => import('./features/networks/networks.routes').then((m) => m.networksRoutes),
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
