import { HttpClient, HttpParams } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { firstValueFrom, type Observable } from 'rxjs';

import type {
  ApiToken,
  CreatedApiToken,
  Grant,
  GrantFilter,
  HostGroup,
  HostGroupInput,
  MyPermissions,
  NewApiToken,
  NewGrant,
  PermissionInfo,
  Role,
  RoleInput,
  Team,
  TeamDetail,
  TotpEnrolment,
  UserAccount,
} from './people-dtos';

/** The REST calls behind the People pages, as promises: every caller awaits one answer. */
@Injectable({ providedIn: 'root' })
export class PeopleApi {
  private readonly http = inject(HttpClient);

  myPermissions(): Promise<MyPermissions> {
    return this.get<MyPermissions>('/api/me/permissions');
  }

  permissionCatalogue(): Promise<PermissionInfo[]> {
    return this.get<PermissionInfo[]>('/api/permissions');
  }

  // Users
  users(): Promise<UserAccount[]> {
    return this.get<UserAccount[]>('/api/users');
  }
  createUser(username: string, password: string): Promise<UserAccount> {
    return this.send(this.http.post<UserAccount>('/api/users', { username, password }));
  }
  setDisabled(id: string, disabled: boolean): Promise<UserAccount> {
    return this.send(this.http.patch<UserAccount>(`/api/users/${id}`, { disabled }));
  }
  resetPassword(id: string, password: string): Promise<unknown> {
    return this.send(this.http.post(`/api/users/${id}/password`, { password }));
  }
  clearTotp(id: string): Promise<unknown> {
    return this.send(this.http.delete(`/api/users/${id}/totp`));
  }
  deleteUser(id: string): Promise<unknown> {
    return this.send(this.http.delete(`/api/users/${id}`));
  }

  // Teams
  teams(): Promise<Team[]> {
    return this.get<Team[]>('/api/teams');
  }
  team(id: string): Promise<TeamDetail> {
    return this.get<TeamDetail>(`/api/teams/${id}`);
  }
  createTeam(name: string, description: string): Promise<TeamDetail> {
    return this.send(this.http.post<TeamDetail>('/api/teams', { name, description }));
  }
  updateTeam(id: string, name: string, description: string): Promise<TeamDetail> {
    return this.send(this.http.patch<TeamDetail>(`/api/teams/${id}`, { name, description }));
  }
  deleteTeam(id: string): Promise<unknown> {
    return this.send(this.http.delete(`/api/teams/${id}`));
  }
  addMember(teamId: string, userId: string): Promise<unknown> {
    return this.send(this.http.put(`/api/teams/${teamId}/members/${userId}`, null));
  }
  removeMember(teamId: string, userId: string): Promise<unknown> {
    return this.send(this.http.delete(`/api/teams/${teamId}/members/${userId}`));
  }

  // Roles
  roles(): Promise<Role[]> {
    return this.get<Role[]>('/api/roles');
  }
  createRole(input: RoleInput): Promise<Role> {
    return this.send(this.http.post<Role>('/api/roles', input));
  }
  updateRole(id: string, input: RoleInput): Promise<Role> {
    return this.send(this.http.patch<Role>(`/api/roles/${id}`, input));
  }
  deleteRole(id: string): Promise<unknown> {
    return this.send(this.http.delete(`/api/roles/${id}`));
  }

  // Host groups
  hostGroups(): Promise<HostGroup[]> {
    return this.get<HostGroup[]>('/api/host-groups');
  }
  createHostGroup(input: HostGroupInput): Promise<HostGroup> {
    return this.send(this.http.post<HostGroup>('/api/host-groups', input));
  }
  updateHostGroup(id: string, input: HostGroupInput): Promise<HostGroup> {
    return this.send(this.http.patch<HostGroup>(`/api/host-groups/${id}`, input));
  }
  deleteHostGroup(id: string): Promise<unknown> {
    return this.send(this.http.delete(`/api/host-groups/${id}`));
  }

  // Grants
  grants(filter: GrantFilter): Promise<Grant[]> {
    let params = new HttpParams();
    for (const [key, value] of Object.entries(filter)) {
      if (typeof value === 'string' && value !== '') {
        params = params.set(key, value);
      }
    }
    return this.send(this.http.get<Grant[]>('/api/grants', { params }));
  }
  createGrant(grant: NewGrant): Promise<Grant> {
    return this.send(this.http.post<Grant>('/api/grants', grant));
  }
  deleteGrant(id: string): Promise<unknown> {
    return this.send(this.http.delete(`/api/grants/${id}`));
  }

  // The caller's own account
  tokens(): Promise<ApiToken[]> {
    return this.get<ApiToken[]>('/api/tokens');
  }
  createToken(token: NewApiToken): Promise<CreatedApiToken> {
    return this.send(this.http.post<CreatedApiToken>('/api/tokens', token));
  }
  revokeToken(id: string): Promise<unknown> {
    return this.send(this.http.delete(`/api/tokens/${id}`));
  }
  changePassword(currentPassword: string, newPassword: string): Promise<unknown> {
    return this.send(this.http.post('/api/me/password', { currentPassword, newPassword }));
  }
  startTotp(): Promise<TotpEnrolment> {
    return this.send(this.http.post<TotpEnrolment>('/api/me/totp', null));
  }
  confirmTotp(code: string): Promise<unknown> {
    return this.send(this.http.post('/api/me/totp/confirm', { code }));
  }
  disableTotp(code: string): Promise<unknown> {
    return this.send(this.http.delete('/api/me/totp', { body: { code } }));
  }

  private get<T>(url: string): Promise<T> {
    return this.send(this.http.get<T>(url));
  }

  private send<T>(request: Observable<T>): Promise<T> {
    return firstValueFrom(request);
  }
}
