import type { Routes } from '@angular/router';

import { requireUserManage } from './require-user-manage';

/** Everything under /people; all but "My account" need user.manage. */
export const peopleRoutes: Routes = [
  {
    path: '',
    loadComponent: () => import('./people-page/people-page').then((m) => m.PeoplePage),
    children: [
      { path: '', pathMatch: 'full', redirectTo: 'users' },
      {
        path: 'users',
        canActivate: [requireUserManage],
        title: 'Users · Skiff',
        loadComponent: () => import('./user-list/user-list').then((m) => m.UserList),
      },
      {
        path: 'teams',
        canActivate: [requireUserManage],
        title: 'Teams · Skiff',
        loadComponent: () => import('./team-list/team-list').then((m) => m.TeamList),
      },
      {
        path: 'roles',
        canActivate: [requireUserManage],
        title: 'Roles · Skiff',
        loadComponent: () => import('./role-list/role-list').then((m) => m.RoleList),
      },
      {
        path: 'host-groups',
        canActivate: [requireUserManage],
        title: 'Host groups · Skiff',
        loadComponent: () => import('./host-group-list/host-group-list').then((m) => m.HostGroupList),
      },
      {
        path: 'grants',
        canActivate: [requireUserManage],
        title: 'Grants · Skiff',
        loadComponent: () => import('./grant-list/grant-list').then((m) => m.GrantList),
      },
      {
        path: 'no-access',
        title: 'People · Skiff',
        loadComponent: () => import('./people-forbidden').then((m) => m.PeopleForbidden),
      },
      {
        path: 'account',
        title: 'My account · Skiff',
        loadComponent: () => import('./my-account/my-account').then((m) => m.MyAccount),
      },
    ],
  },
];
