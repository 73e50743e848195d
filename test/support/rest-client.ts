/*
 * The REST API as a browser or a script calls it: sign in, then JSON requests with the session's
 * cookie and CSRF token. Imports nothing of the server, so the e2e tier (no decorator plugin) can use it.
 */

export interface Session {
  cookie: string;
  csrfToken: string;
}

/** Signs in as anyone (with the current TOTP code when their account needs one); throws unless it works. */
export async function signInAs(baseUrl: string, username: string, password: string, totp?: string): Promise<Session> {
  const response = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, ...(totp === undefined ? {} : { totp }) }),
  });
  if (response.status !== 200) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  const cookie = response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ');
  const { csrfToken } = (await response.json()) as { csrfToken: string };
  return { cookie, csrfToken };
}

/** A JSON request as a signed-in browser would send it. */
export async function call(
  baseUrl: string,
  session: Session | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(session ? { cookie: session.cookie, 'x-csrf-token': session.csrfToken } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}
