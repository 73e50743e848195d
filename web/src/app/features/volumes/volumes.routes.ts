import type { Routes } from '@angular/router';

/** /volumes: one host's volumes. */
export const volumesRoutes: Routes = [
  { path: '', loadComponent: () => import('./volume-list/volume-list').then((m) => m.VolumeList) },
];
