import type { Routes } from '@angular/router';

/** /images: one host's images. */
export const imagesRoutes: Routes = [
  { path: '', loadComponent: () => import('./image-list/image-list').then((m) => m.ImageList) },
];
