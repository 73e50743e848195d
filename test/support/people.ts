import { call, type Session, signInAs } from './rest-client.js';

/** Every account made by these helpers has this password. */
export const PEOPLE_PASSWORD = 'a long enough test password';

/** Creates a user (as `admin`, who needs user.manage), or fails the test with the server's answer. */
export async function createUser(baseUrl: string, admin: Session, username: string): Promise<string> {
  const created = await call(baseUrl, admin, 'POST', '/api/users', { username, password: PEOPLE_PASSWORD });
  if (created.status !== 201)
    throw new Error(`create user ${username}: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.id as string;
}

/** The id of a role by name, built-in or custom. */
export async function roleId(baseUrl: string, admin: Session, name: string): Promise<string> {
  const roles = await call(baseUrl, admin, 'GET', '/api/roles');
  const role = (roles.body as Array<{ id: string; name: string }>).find((candidate) => candidate.name === name);
  if (!role) throw new Error(`no role named ${name}: ${roles.status} ${JSON.stringify(roles.body)}`);
  return role.id;
}

/** Gives a user or a team a role, on every host or on a host group; returns the grant's id. */
export async function grant(
  baseUrl: string,
  admin: Session,
  subject: { userId: string } | { teamId: string },
  role: string,
  hostGroupId?: string,
): Promise<string> {
  const body = { roleId: await roleId(baseUrl, admin, role), ...subject, ...(hostGroupId ? { hostGroupId } : {}) };
  const created = await call(baseUrl, admin, 'POST', '/api/grants', body);
  if (created.status !== 201) throw new Error(`grant ${role}: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.id as string;
}

/** A new user with a built-in or custom role on every host, signed in. */
export async function createUserWithRole(
  baseUrl: string,
  admin: Session,
  username: string,
  role: string,
): Promise<Session> {
  const userId = await createUser(baseUrl, admin, username);
  await grant(baseUrl, admin, { userId }, role);
  return signInAs(baseUrl, username, PEOPLE_PASSWORD);
}
