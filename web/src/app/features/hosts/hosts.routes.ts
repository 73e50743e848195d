import type { Routes } from '@angular/router';

/** Everything under /hosts; host details and join tokens will join the list later. */
export const hostsRoutes: Routes = [
  {
    path: '',
    loadComponent: () => import('./host-list/host-list').then((m) => m.HostList),
  },
];
