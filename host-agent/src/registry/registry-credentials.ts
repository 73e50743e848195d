/**
 * Registry credentials as clients hand them to the engine: the `X-Registry-Auth` header of pull
 * and push (base64url of a JSON AuthConfig; the docker CLI sends `e30=`, i.e. `{}`, when it has
 * none) and the body of `POST /auth` (`docker login`). The engine keeps no credentials: the CLI
 * stores them and sends them with every call.
 */
import { invalidArgument } from '../engine-error.js';

export type RegistryCredentials =
  | { kind: 'anonymous' }
  | { kind: 'basic'; username: string; password: string }
  /** An OAuth2 refresh token a registry gave at login (`IdentityToken`), traded for access tokens. */
  | { kind: 'identity-token'; username: string; token: string }
  /** A bearer token to send as it is. */
  | { kind: 'registry-token'; token: string };

export const ANONYMOUS: RegistryCredentials = { kind: 'anonymous' };

/** The longest X-Registry-Auth accepted; identity tokens can be a few KiB. */
const MAX_HEADER_LENGTH = 64 * 1024;
const MAX_FIELD_LENGTH = 16 * 1024;

export interface LoginRequest {
  credentials: RegistryCredentials;
  /** `serveraddress`: the registry to log in to; Docker Hub when empty. */
  serverAddress: string;
}

/** Reads `X-Registry-Auth`; absent or `{}` means anonymous. */
export function parseRegistryAuthHeader(value: string | undefined): RegistryCredentials {
  const trimmed = value?.trim() ?? '';
  if (trimmed === '') return ANONYMOUS;
  if (trimmed.length > MAX_HEADER_LENGTH) throw invalidArgument('invalid X-Registry-Auth header: it is too long');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw invalidArgument('invalid X-Registry-Auth header: it is not base64url-encoded JSON');
  }
  // Buffer's base64 decoder takes both the standard and the URL-safe alphabet, padded or not.
  const text = Buffer.from(trimmed, 'base64').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalidArgument('invalid X-Registry-Auth header: it is not base64url-encoded JSON');
  }
  return parseAuthConfig(json, 'X-Registry-Auth header').credentials;
}

/** Reads the JSON body of `POST /auth`. */
export function parseLoginBody(body: unknown): LoginRequest {
  if (body === undefined)
    throw invalidArgument('the login request has no body: send username, password and serveraddress');
  return parseAuthConfig(body, 'login request');
}

function parseAuthConfig(value: unknown, what: string): LoginRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`invalid ${what}: expected a JSON object`);
  }
  const record = value as Record<string, unknown>;
  const field = (name: string): string => {
    const found = Object.entries(record).find(([key]) => key.toLowerCase() === name)?.[1];
    if (found === undefined || found === null) return '';
    if (typeof found !== 'string') throw invalidArgument(`invalid ${what}: ${name} must be a string`);
    if (found.length > MAX_FIELD_LENGTH) throw invalidArgument(`invalid ${what}: ${name} is too long`);
    if ([...found].some((char) => char.charCodeAt(0) < 0x20))
      throw invalidArgument(`invalid ${what}: ${name} contains control characters`);
    return found;
  };
  let username = field('username');
  let password = field('password');
  const auth = field('auth');
  const identityToken = field('identitytoken');
  const registryToken = field('registrytoken');
  const serverAddress = field('serveraddress');
  if (auth !== '' && username === '' && password === '') {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw invalidArgument(`invalid ${what}: auth is not base64 of "username:password"`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  let credentials: RegistryCredentials;
  if (registryToken !== '') credentials = { kind: 'registry-token', token: registryToken };
  else if (identityToken !== '') credentials = { kind: 'identity-token', username, token: identityToken };
  else if (username !== '' || password !== '') {
    if (username === '') throw invalidArgument(`invalid ${what}: a password without a username`);
    if (username.includes(':')) throw invalidArgument(`invalid ${what}: the username contains ":"`);
    credentials = { kind: 'basic', username, password };
  } else credentials = ANONYMOUS;
  return { credentials, serverAddress };
}

/** Who the credentials are, for messages (never the secret). */
export function describeCredentials(credentials: RegistryCredentials): string {
  switch (credentials.kind) {
    case 'anonymous':
      return 'anonymously';
    case 'basic':
    case 'identity-token':
      return `as ${credentials.username || 'the token holder'}`;
    case 'registry-token':
      return 'with a registry token';
  }
}
