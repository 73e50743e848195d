import type { Routes } from '@angular/router';

/** Everything under /hosts: the live list and one host's page. */
export const hostsRoutes: Routes = [
  {
    path: '',
    loadComponent: () => import('./host-list/host-list').then((m) => m.HostList),
  },
  {
    path: ':id',
    title: 'Host · Skiff',
    loadComponent: () => import('./host-detail/host-detail').then((m) => m.HostDetail),
  },
];
