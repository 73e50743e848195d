import type { Routes } from '@angular/router';

/** Everything under /hosts: the live list and one host's page. */
export const hostsRoutes: Routes = [
  {
    path: '',
    loadComponent: () => import('./host-list/host-list').then((m) => m.HostList),
  },
  {
    path: 'install',
    title: 'Install agents over SSH · Skiff',
    loadComponent: () => import('./install-wizard/install-wizard').then((m) => m.InstallWizard),
  },
  {
    path: ':id',
    title: 'Host · Skiff',
    loadComponent: () => import('./host-detail/host-detail').then((m) => m.HostDetail),
  },
];
