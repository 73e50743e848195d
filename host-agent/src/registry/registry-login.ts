/**
 * `docker login` (`POST /auth`): checks the credentials against the registry: `GET /v2/` with
 * them (Basic), or a token from the registry's token server for them (Bearer). The engine keeps
 * nothing; the CLI stores the credentials and sends them with each pull and push. A token server
 * that hands out a refresh token gives it back as the IdentityToken, as dockerd does.
 */
import { EngineError, invalidArgument } from '../engine-error.js';
import { DEFAULT_DOMAIN, parseReference } from '../images/image-reference.js';
import type { LoginRequest } from './registry-credentials.js';
import { registryError } from './registry-error.js';
import { discard } from './registry-http.js';
import type { RegistryService } from './registry-service.js';

export interface LoginAnswer {
  Status: 'Login Succeeded';
  IdentityToken: string;
}

/** `https://index.docker.io/v1/` → `docker.io`; `http://127.0.0.1:5000/` → `127.0.0.1:5000`. */
export function registryOfServerAddress(address: string): string {
  const trimmed = address
    .trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  if (
    trimmed === '' ||
    trimmed === 'index.docker.io' ||
    trimmed === 'registry-1.docker.io' ||
    trimmed === DEFAULT_DOMAIN
  ) {
    return DEFAULT_DOMAIN;
  }
  try {
    const reference = parseReference(`${trimmed}/probe`);
    if (reference.domain === trimmed) return trimmed;
  } catch {
    // fall through
  }
  throw invalidArgument(`invalid registry address: ${JSON.stringify(address)}`);
}

export async function login(
  service: RegistryService,
  request: LoginRequest,
  signal?: AbortSignal,
): Promise<LoginAnswer> {
  const registry = registryOfServerAddress(request.serverAddress);
  if (request.credentials.kind === 'anonymous') {
    throw invalidArgument('a login needs a username and a password (or an identity token)');
  }
  try {
    return await service.withRegistry(
      { registry, repository: '', credentials: request.credentials, scopes: [] },
      'login',
      signal,
      async ({ client }) => {
        let identityToken = '';
        if (client.auth.scheme === 'bearer') identityToken = (await client.auth.loginToken()).refreshToken ?? '';
        const response = await client.request('GET', '/v2/', { scopes: [] });
        if (response.status !== 200) throw await registryError(response, `login to ${registry} failed`);
        discard(response);
        // A registry that asks for no credentials at all: dockerd reports success all the same.
        return { Status: 'Login Succeeded', IdentityToken: identityToken };
      },
    );
  } catch (error) {
    if (error instanceof EngineError && (error.kind === 'unauthenticated' || error.kind === 'forbidden')) {
      const said = error.message.includes(': ') ? error.message.slice(error.message.indexOf(': ') + 2) : error.message;
      throw new EngineError('unauthenticated', `login to ${registry} failed: ${said}`);
    }
    throw error;
  }
}
