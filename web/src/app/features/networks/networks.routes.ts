import type { Routes } from '@angular/router';

/** /networks: one host's networks. */
export const networksRoutes: Routes = [
  { path: '', loadComponent: () => import('./network-list/network-list').then((m) => m.NetworkList) },
];
