import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerWith, storeSnapshot } from '../../../test/support/registry-checks.js';
import { TokenServer } from '../../../test/support/registry-token-server.js';
import { TestEngine } from '../../../test/support/test-engine.js';
import { TestRegistry } from '../../../test/support/test-registry.js';

const USERS = { alice: 'wonder-land-7' };

/**
 * docker login, pull and push with credentials, against a registry with htpasswd basic auth
 * and one with token auth. The docker CLI keeps the login in its own config directory and sends
 * it as X-Registry-Auth; the engine keeps nothing.
 */
describe.each([{ auth: 'basic (htpasswd)' as const }, { auth: 'bearer token' as const }])(
  'a registry with $auth auth',
  ({ auth }) => {
    let registry: TestRegistry;
    let tokens: TokenServer | undefined;
    let engine: TestEngine;
    let config: string;
    const docker = (args: string[], input?: string) =>
      dockerWith(engine, { DOCKER_CONFIG: config }, args, input === undefined ? {} : { input });

    beforeAll(async () => {
      if (auth === 'bearer token') {
        tokens = await TokenServer.start(USERS);
        registry = await TestRegistry.start({ tokenServer: tokens });
      } else {
        registry = await TestRegistry.start({ users: USERS });
      }
      engine = await TestEngine.start({ busybox: true });
      config = await mkdtemp(join(tmpdir(), 'skiff-docker-config-'));
    });
    afterAll(async () => {
      await engine?.close();
      await registry?.close();
      await tokens?.close();
      await rm(config, { recursive: true, force: true });
    });

    it('refuses a push and a pull without login, telling to run docker login', async () => {
      await engine.docker('tag', 'busybox:latest', `${registry.host}/private/busybox:1`);
      const push = await docker(['push', `${registry.host}/private/busybox:1`]);
      expect(push.code).not.toBe(0);
      expect(push.stderr).toMatch(/unauthorized|denied/);
      expect(push.stderr).toContain(`run docker login ${registry.host}`);
      const before = await storeSnapshot(engine.root);
      const pull = await docker(['pull', `${registry.host}/private/busybox:1`]);
      expect(pull.code).not.toBe(0);
      expect(pull.stderr).toContain(`pull access denied for ${registry.host}/private/busybox`);
      expect(await storeSnapshot(engine.root)).toEqual(before);
    });

    it('refuses a login with a wrong password', async () => {
      const result = await docker(['login', registry.host, '--username', 'alice', '--password-stdin'], 'wrong\n');
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`login to ${registry.host} failed`);
    });

    it('logs in, then pushes and pulls with the stored credentials', async () => {
      const login = await docker(
        ['login', registry.host, '--username', 'alice', '--password-stdin'],
        `${USERS.alice}\n`,
      );
      expect(login.stderr + login.stdout).toContain('Login Succeeded');
      const push = await docker(['push', `${registry.host}/private/busybox:1`]);
      expect(push.stderr).toBe('');
      expect(push.stdout).toMatch(/1: digest: sha256:[a-f0-9]{64}/);
      await engine.docker('rmi', `${registry.host}/private/busybox:1`);
      const pull = await docker(['pull', `${registry.host}/private/busybox:1`]);
      expect(pull.stdout).toContain('Status: Downloaded newer image');
      expect(await engine.docker('run', '--rm', `${registry.host}/private/busybox:1`, 'echo', 'authenticated')).toBe(
        'authenticated',
      );
      if (tokens !== undefined) {
        // The token server gave a refresh token at login: the CLI keeps it as the identity token
        // and the engine trades it for access tokens (OAuth2 refresh-token grant).
        const stored = JSON.parse(await readFile(join(config, 'config.json'), 'utf8')) as {
          auths: Record<string, { identitytoken?: string }>;
        };
        expect(stored.auths[registry.host]?.identitytoken).toMatch(/^[a-f0-9]{32}$/);
        expect(tokens.requests).toContainEqual({
          account: 'alice',
          scopes: ['repository:private/busybox:pull,push'],
          status: 200,
          grant: 'refresh_token',
        });
        expect(tokens.requests).toContainEqual({
          account: 'alice',
          scopes: ['repository:private/busybox:pull'],
          status: 200,
          grant: 'refresh_token',
        });
      }
    });
  },
);
