import type { Routes } from '@angular/router';

/** Everything under /containers: the fleet-wide list and one container's page. */
export const containersRoutes: Routes = [
  {
    path: '',
    loadComponent: () => import('./container-list/container-list').then((m) => m.ContainerList),
  },
  {
    path: ':hostId/:id',
    title: 'Container · Skiff',
    loadComponent: () => import('./container-detail/container-detail').then((m) => m.ContainerDetail),
  },
];
