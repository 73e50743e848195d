/**
 * Authentication with one registry for one operation. The registry says how on a 401:
 * `Basic` (send the credentials on every request) or `Bearer realm=…,service=…,scope=…` (ask the
 * token server at `realm` for a token for the scopes, with the credentials if there are any, and
 * send that). Tokens are kept per set of scopes until shortly before they expire.
 */
import { EngineError, invalidArgument } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import { findChallenge, parseAuthChallenges, type AuthChallenge } from './auth-challenge.js';
import type { RegistryCredentials } from './registry-credentials.js';
import { errorFromDetails, parseErrors } from './registry-error.js';
import { readBody, type HttpResponse, type RegistryHttp } from './registry-http.js';

const MAX_TOKEN_ANSWER = 1024 * 1024;
/** A token is renewed this long before the registry would refuse it. */
const EXPIRY_MARGIN_MS = 10_000;
/** What the token spec says to assume when the server does not say (60 s). */
const DEFAULT_TOKEN_LIFETIME_S = 60;

export interface AuthOptions {
  http: RegistryHttp;
  credentials: RegistryCredentials;
  /** The registry, for messages: `127.0.0.1:5000`. */
  registry: string;
  /** Whether a host may be reached over plain HTTP / without certificate checks. */
  isInsecure: (hostAndPort: string) => Promise<boolean>;
  signal?: AbortSignal;
}

/** `repository:library/busybox:pull`, `repository:app:pull,push`. */
export function repositoryScope(path: string, actions: readonly ('pull' | 'push')[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

export interface TokenAnswer {
  token: string;
  expiresInSeconds: number;
  refreshToken?: string;
}

export class RegistryAuth {
  private bearer: AuthChallenge | undefined;
  private basic = false;
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(private readonly options: AuthOptions) {}

  /** The Authorization header to send for a request needing `scopes`, as far as is known. */
  async authorization(scopes: readonly string[]): Promise<string | undefined> {
    const { credentials } = this.options;
    if (credentials.kind === 'registry-token') return `Bearer ${credentials.token}`;
    if (this.bearer !== undefined) return `Bearer ${await this.token(scopes)}`;
    if (this.basic && credentials.kind === 'basic') return basicHeader(credentials.username, credentials.password);
    return undefined;
  }

  /**
   * Learns from a 401 how to authenticate; true when a retry can do better than the request
   * that was refused (sent with `sent` as its Authorization).
   */
  challenged(response: HttpResponse, scopes: readonly string[], sent: string | undefined): boolean {
    const challenges = parseAuthChallenges(response.headers['www-authenticate']);
    const bearer = findChallenge(challenges, 'bearer');
    const { credentials } = this.options;
    if (bearer !== undefined && credentials.kind !== 'registry-token') {
      const known = this.bearer;
      this.bearer = bearer;
      const wanted = [...new Set([...scopes, ...(bearer.params.scope ? bearer.params.scope.split(' ') : [])])];
      if (known === undefined || sent === undefined) return true;
      // A token that was refused is not asked for again: it would be refused again.
      this.tokens.delete(scopeKey(wanted));
      this.tokens.delete(scopeKey(scopes));
      return false;
    }
    if (findChallenge(challenges, 'basic') !== undefined && credentials.kind === 'basic' && !this.basic) {
      this.basic = true;
      return true;
    }
    return false;
  }

  private async token(scopes: readonly string[]): Promise<string> {
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expiresAt > Date.now()) return cached.token;
    const answer = await this.fetchToken(scopes, false);
    this.tokens.set(key, {
      token: answer.token,
      expiresAt: Date.now() + answer.expiresInSeconds * 1000 - EXPIRY_MARGIN_MS,
    });
    return answer.token;
  }

  /** For `docker login`: a token for no scope, and the refresh token to keep if the server gives one. */
  async loginToken(): Promise<TokenAnswer> {
    if (this.bearer === undefined) throw new Error('internal: no bearer challenge to log in with');
    return this.fetchToken([], true);
  }

  get scheme(): 'bearer' | 'basic' | 'none' {
    return this.bearer !== undefined ? 'bearer' : this.basic ? 'basic' : 'none';
  }

  private async fetchToken(scopes: readonly string[], offline: boolean): Promise<TokenAnswer> {
    const challenge = this.bearer!;
    const realm = await this.realm(challenge);
    const { credentials, http, registry } = this.options;
    const service = challenge.params.service;
    let response: HttpResponse;
    if (credentials.kind === 'identity-token') {
      // OAuth2 refresh-token grant, as the docker daemon does with an identity token.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: credentials.token,
        client_id: 'docker',
        ...(service ? { service } : {}),
      });
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      response = await http.send({
        method: 'POST',
        url: realm.url,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
        skipTlsVerify: realm.skipTlsVerify,
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      });
    } else {
      const url = new URL(realm.url);
      if (service) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      const headers: Record<string, string> = {};
      if (credentials.kind === 'basic') {
        url.searchParams.set('account', credentials.username);
        headers.Authorization = basicHeader(credentials.username, credentials.password);
      }
      if (offline) {
        url.searchParams.set('offline_token', 'true');
        url.searchParams.set('client_id', 'docker');
      }
      response = await http.send({
        method: 'GET',
        url,
        headers,
        skipTlsVerify: realm.skipTlsVerify,
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      });
    }
    const body = await readBody(response, MAX_TOKEN_ANSWER, `the token answer of ${realm.url.host}`);
    if (response.status !== 200) {
      const context = `cannot get a token for ${registry} from ${realm.url.origin}${realm.url.pathname}`;
      throw errorFromDetails(response.status, parseErrors(body), context);
    }
    return parseTokenAnswer(body, realm.url.host);
  }

  private async realm(challenge: AuthChallenge): Promise<{ url: URL; skipTlsVerify: boolean }> {
    const text = challenge.params.realm;
    if (text === undefined || text === '')
      throw invalidArgument(`${this.options.registry} asked for a token but named no realm`);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw invalidArgument(`${this.options.registry} named an invalid token realm: ${text}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalidArgument(`${this.options.registry} named a token realm that is not http(s): ${text}`);
    }
    const insecure = await this.options.isInsecure(url.host);
    if (url.protocol === 'http:' && !insecure) {
      throw invalidArgument(
        `${this.options.registry} sends credentials to a token realm over plain HTTP (${url.origin}): refused unless ${url.host} is an insecure registry`,
      );
    }
    return { url, skipTlsVerify: insecure };
  }
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** The token server's JSON: `token` (or OAuth2's `access_token`), `expires_in`, `refresh_token`. */
export function parseTokenAnswer(body: Buffer, server: string): TokenAnswer {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new EngineError('invalid-argument', `the token server ${server} answered no JSON: ${errorMessage(error)}`);
  }
  const token = typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : parsed.access_token;
  if (typeof token !== 'string' || token === '' || !/^[\x21-\x7e]+$/.test(token)) {
    throw invalidArgument(`the token server ${server} answered without a usable token`);
  }
  const expiresIn =
    typeof parsed.expires_in === 'number' && Number.isFinite(parsed.expires_in) && parsed.expires_in > 0
      ? parsed.expires_in
      : DEFAULT_TOKEN_LIFETIME_S;
  const refresh =
    typeof parsed.refresh_token === 'string' && parsed.refresh_token !== '' ? parsed.refresh_token : undefined;
  return { token, expiresInSeconds: expiresIn, ...(refresh ? { refreshToken: refresh } : {}) };
}
