import { BUILT_IN_ROLES, PERMISSIONS } from '@skiff/protocol';
import { describe, expect, it } from 'vitest';
import { Access, type AccessGrant, type AccessHostGroup, selectorMatches } from './access.js';

const prod: AccessHostGroup = { id: 'g-prod', name: 'prod', selector: { env: 'prod' } };
const euProd: AccessHostGroup = { id: 'g-eu', name: 'eu-prod', selector: { env: 'prod', region: 'eu' } };
const web1 = { id: 'h1', labels: { env: 'prod', region: 'eu' } };
const web2 = { id: 'h2', labels: { env: 'prod', region: 'us' } };
const dev1 = { id: 'h3', labels: { env: 'dev' } };
const bare = { id: 'h4', labels: {} };

const grant = (permissions: readonly string[], hostGroup: AccessHostGroup | null = null): AccessGrant => ({
  permissions,
  hostGroup,
});
const access = (grants: AccessGrant[], tokenPermissions: string[] | null = null, disabled = false) =>
  Access.from({ disabled, grants, tokenPermissions });

describe(Access.name, () => {
  it('gives a globally granted role on every host and without a host', () => {
    const viewer = access([grant(BUILT_IN_ROLES.viewer)]);
    expect(viewer.allows('container.logs')).toBe(true);
    expect(viewer.allows('container.logs', dev1)).toBe(true);
    expect(viewer.allowsGlobally('host.view')).toBe(true);
    expect(viewer.allows('container.exec', web1)).toBe(false);
    expect(viewer.allows('user.manage')).toBe(false);
  });

  it('gives a role granted on a group only on the hosts whose labels match its selector', () => {
    const operator = access([grant(BUILT_IN_ROLES.operator, prod)]);
    expect(operator.allows('container.exec', web1)).toBe(true);
    expect(operator.allows('container.exec', web2)).toBe(true);
    expect(operator.allows('container.exec', dev1)).toBe(false);
    expect(operator.allows('container.exec', bare)).toBe(false);
    expect(operator.allows('container.exec')).toBe(false);
    expect(operator.allowsGlobally('container.exec')).toBe(false);
    expect(operator.allowsSomewhere('container.exec')).toBe(true);
  });

  it('needs every pair of a selector to match', () => {
    const eu = access([grant(['host.view'], euProd)]);
    expect(eu.allows('host.view', web1)).toBe(true);
    expect(eu.allows('host.view', web2)).toBe(false);
    expect(selectorMatches({}, { any: 'thing' })).toBe(true);
    expect(selectorMatches({ env: 'prod' }, { env: 'production' })).toBe(false);
    expect(selectorMatches({ toString: 'x' }, {})).toBe(false);
  });

  it('gives nothing of people and audit permissions through a group', () => {
    const groupAdmin = access([grant(BUILT_IN_ROLES.admin, prod)]);
    expect(groupAdmin.allows('container.privileged', web1)).toBe(true);
    expect(groupAdmin.allows('user.manage', web1)).toBe(false);
    expect(groupAdmin.allowsSomewhere('audit.view')).toBe(false);
    const [prodGroup] = groupAdmin.groupPermissions();
    expect(prodGroup.group).toEqual({ id: 'g-prod', name: 'prod' });
    expect([...prodGroup.permissions]).toEqual(BUILT_IN_ROLES.admin.filter((p) => !/^(user|audit)\./.test(p)));
  });

  it('adds up grants: its own and its teams, global and per group', () => {
    // A user's viewer grant and their team's operator grant on prod, as AccessService loads them.
    const combined = access([grant(BUILT_IN_ROLES.viewer), grant(BUILT_IN_ROLES.operator, prod)]);
    // audit.view is in the operator role, but is not a host permission: on a group it gives nothing.
    expect([...combined.permissionsOn(web1)]).toEqual(BUILT_IN_ROLES.operator.filter((p) => p !== 'audit.view'));
    expect([...combined.permissionsOn(dev1)]).toEqual([...BUILT_IN_ROLES.viewer]);
    expect([...combined.globalPermissions()]).toEqual([...BUILT_IN_ROLES.viewer]);
  });

  it('merges two grants on the same group', () => {
    const merged = access([grant(['host.view'], prod), grant(['container.view'], prod)]);
    expect(merged.groupPermissions()).toHaveLength(1);
    expect([...merged.permissionsOn(web2)]).toEqual(['host.view', 'container.view']);
  });

  it('limits a token to its subset of what its owner holds', () => {
    const owner = [grant(BUILT_IN_ROLES.operator), grant(BUILT_IN_ROLES.admin, prod)];
    const token = access(owner, ['container.view', 'container.privileged', 'user.manage']);
    expect([...token.globalPermissions()]).toEqual(['container.view']);
    expect(token.allows('container.privileged', web1)).toBe(true);
    expect(token.allows('container.privileged', dev1)).toBe(false);
    expect(token.allows('container.manage', web1)).toBe(false);
    expect(token.allowsSomewhere('user.manage')).toBe(false);
    expect(token.tokenPermissions).toEqual(new Set(['container.view', 'container.privileged', 'user.manage']));
    expect(access(owner, null).allows('container.manage', dev1)).toBe(true);
    expect(access(owner, null).tokenPermissions).toBeNull();
  });

  it('gives a disabled user nothing', () => {
    const disabled = access([grant(PERMISSIONS)], null, true);
    for (const permission of PERMISSIONS) {
      expect(disabled.allowsSomewhere(permission)).toBe(false);
      expect(disabled.allows(permission, web1)).toBe(false);
    }
    expect(disabled.permissionsOn(web1).size).toBe(0);
    expect(Access.none().globalPermissions().size).toBe(0);
  });

  it('ignores permission names it does not know', () => {
    const odd = access([grant(['host.view', 'host.reboot'])]);
    expect([...odd.globalPermissions()]).toEqual(['host.view']);
  });
});
