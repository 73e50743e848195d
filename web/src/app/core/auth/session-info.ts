/*
 * The answers of POST /api/auth/login and GET /api/auth/me.
 * They belong in @skiff/protocol next to the route table; they live here until the server
 * publishes them there, and must then become type-only imports from it.
 */

export interface SessionUser {
  id: string;
  username: string;
}

/** POST /api/auth/login, 200. */
export interface SignedIn {
  user: SessionUser;
  /** Sent back as `X-CSRF-Token` on every mutating request of this session. */
  csrfToken: string;
}

/** GET /api/auth/me, 200. `csrfToken` is absent when the caller used an API token, not a cookie. */
export interface Me {
  user: SessionUser;
  via?: 'user' | 'token';
  csrfToken?: string;
  /** Whether signing in to this account needs a TOTP code. */
  totpEnabled?: boolean;
}

export interface Credentials {
  username: string;
  password: string;
}
