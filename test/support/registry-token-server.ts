/**
 * A token server for a registry with `auth: token` (the Docker token spec): a real HTTP server
 * on 127.0.0.1 that checks Basic credentials and issues JWTs signed RS256 with a test key whose
 * self-signed certificate the registry trusts (`rootcertbundle`) and which rides in each token's
 * `x5c` header. Known users get what they ask for; anonymous callers get no access.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TokenRequestRecord {
  account: string | undefined;
  scopes: string[];
  status: number;
  /** How the caller proved who it is. */
  grant?: 'password' | 'refresh_token';
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export class TokenServer {
  readonly service = 'skiff-test-registry';
  readonly issuer = 'skiff-test-issuer';
  readonly requests: TokenRequestRecord[] = [];
  /** Refresh tokens handed out at login (`offline_token=true`), by token. */
  private readonly refreshTokens = new Map<string, string>();

  private constructor(
    private readonly directory: string,
    private readonly server: Server,
    readonly realm: string,
    readonly certificatePath: string,
    private readonly keyPem: string,
    private readonly certificateDer: Buffer,
    private readonly users: Record<string, string>,
  ) {}

  static async start(users: Record<string, string>): Promise<TokenServer> {
    const directory = await mkdtemp(join(tmpdir(), 'skiff-token-'));
    const keyPath = join(directory, 'key.pem');
    const certificatePath = join(directory, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certificatePath,
        '-days',
        '2',
        '-subj',
        '/CN=skiff-test-token-issuer',
      ],
      { stdio: 'ignore' },
    );
    const keyPem = readFileSync(keyPath, 'utf8');
    const certificateDer = new X509Certificate(readFileSync(certificatePath)).raw;
    let handler: (request: IncomingMessage, response: ServerResponse) => void = () => undefined;
    const server = createServer((request, response) => handler(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const tokens = new TokenServer(
      directory,
      server,
      `http://127.0.0.1:${port}/token`,
      certificatePath,
      keyPem,
      certificateDer,
      users,
    );
    handler = (request, response) => tokens.handle(request, response);
    return tokens;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    if (request.method === 'POST') {
      // The OAuth2 refresh-token grant the docker daemon uses with an identity token.
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        const account = this.refreshTokens.get(form.get('refresh_token') ?? '');
        const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        if (form.get('grant_type') !== 'refresh_token' || account === undefined) {
          this.requests.push({ account, scopes, status: 401, grant: 'refresh_token' });
          response.writeHead(401, { 'Content-Type': 'application/json' });
          response.end('{}');
          return;
        }
        this.issue(response, account, scopes, 'refresh_token', false);
      });
      return;
    }
    const url = new URL(request.url ?? '/', this.realm);
    const scopes = url.searchParams.getAll('scope');
    let account: string | undefined;
    const authorization = request.headers.authorization ?? '';
    if (authorization.startsWith('Basic ')) {
      const [user, ...rest] = Buffer.from(authorization.slice(6), 'base64').toString().split(':');
      if (user === undefined || this.users[user] !== rest.join(':')) {
        this.requests.push({ account: user, scopes, status: 401, grant: 'password' });
        response.writeHead(401, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      account = user;
    }
    if (url.pathname !== '/token' || url.searchParams.get('service') !== this.service) {
      this.requests.push({ account, scopes, status: 400 });
      response.writeHead(400);
      response.end();
      return;
    }
    this.issue(
      response,
      account,
      scopes,
      account === undefined ? undefined : 'password',
      url.searchParams.get('offline_token') === 'true',
    );
  }

  private issue(
    response: ServerResponse,
    account: string | undefined,
    scopes: string[],
    grant: TokenRequestRecord['grant'],
    offline: boolean,
  ): void {
    const access =
      account === undefined
        ? []
        : scopes.flatMap((scope) => {
            const [type, name, actions] = scope.split(':');
            return type === 'repository' && name && actions ? [{ type, name, actions: actions.split(',') }] : [];
          });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [this.certificateDer.toString('base64')] };
    const claims = {
      iss: this.issuer,
      sub: account ?? '',
      aud: this.service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), createPrivateKey(this.keyPem));
    this.requests.push({ account, scopes, status: 200, ...(grant ? { grant } : {}) });
    let refresh: string | undefined;
    if (offline && account !== undefined) {
      refresh = randomBytes(16).toString('hex');
      this.refreshTokens.set(refresh, account);
    }
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(
      JSON.stringify({
        token: `${signingInput}.${base64url(signature)}`,
        expires_in: 300,
        ...(refresh ? { refresh_token: refresh } : {}),
      }),
    );
  }

  async close(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
    await rm(this.directory, { recursive: true, force: true });
  }
}
