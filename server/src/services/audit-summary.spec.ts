import { describe, expect, it } from 'vitest';
import { REDACTED, SUMMARY_LIMITS, isSecretKey, redactEnvEntry, summariseBody } from './audit-summary.js';

describe('summariseBody', () => {
  it('keeps a docker create body readable and redacts secret environment values', () => {
    const body = {
      Image: 'postgres:16',
      Cmd: ['postgres', '-c', 'max_connections=200'],
      Env: [
        'DB_PASSWORD=hunter2',
        'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI',
        'GITHUB_TOKEN=ghp_abc',
        'API_KEY=k-123',
        'PGDATA=/var/lib/postgresql/data',
        'TZ=UTC',
        'DATABASE_URL=postgres://app:s3cret@db:5432/app',
        'NO_EQUALS_SIGN',
      ],
      Labels: { 'com.example.team': 'data' },
      HostConfig: { Binds: ['/srv/pg:/var/lib/postgresql/data'], Memory: 536870912, Privileged: false },
    };
    const summary = summariseBody(body);
    expect(summary).toEqual({
      ...body,
      Env: [
        `DB_PASSWORD=${REDACTED}`,
        `AWS_SECRET_ACCESS_KEY=${REDACTED}`,
        `GITHUB_TOKEN=${REDACTED}`,
        `API_KEY=${REDACTED}`,
        'PGDATA=/var/lib/postgresql/data',
        'TZ=UTC',
        `DATABASE_URL=postgres://app:${REDACTED}@db:5432/app`,
        'NO_EQUALS_SIGN',
      ],
    });
    const text = JSON.stringify(summary);
    for (const secret of ['hunter2', 'wJalrXUtnFEMI', 'ghp_abc', 'k-123', 's3cret']) expect(text).not.toContain(secret);
  });

  it('redacts the password and identity token of a registry login (POST /auth), and keeps the rest', () => {
    expect(
      summariseBody({
        username: 'ci-bot',
        password: 'p4ss',
        serveraddress: 'registry.example.com',
        identitytoken: 'eyJhbGciOi',
        email: 'ci@example.com',
      }),
    ).toEqual({
      username: 'ci-bot',
      password: REDACTED,
      serveraddress: 'registry.example.com',
      identitytoken: REDACTED,
      email: 'ci@example.com',
    });
  });

  it('redacts secrets at any depth, in any case and spelling, whole objects included', () => {
    const summary = summariseBody({
      TaskTemplate: {
        ContainerSpec: {
          Env: ['SESSION_SECRET=abc', 'PORT=80'],
          Secrets: [{ SecretName: 'tls-key', File: { Name: 'key.pem' } }],
        },
      },
      'X-Registry-Auth': 'eyJ1c2VybmFtZSI6',
      AuthConfig: { username: 'a', password: 'b' },
      RegistryToken: 'rt',
      apiKey: 'x',
      api_key: 'y',
      Authorization: 'Bearer skt_123',
      PRIVATE_KEY: '-----BEGIN',
      Passphrase: 'pp',
      db_passwd: 'z',
      Credentials: ['c'],
      author: 'Ada <ada@example.com>',
    }) as Record<string, any>;
    expect(summary.TaskTemplate.ContainerSpec.Env).toEqual([`SESSION_SECRET=${REDACTED}`, 'PORT=80']);
    // Over-redaction is the safe side: a list of secret references goes as a whole.
    expect(summary.TaskTemplate.ContainerSpec.Secrets).toBe(REDACTED);
    for (const key of [
      'X-Registry-Auth',
      'AuthConfig',
      'RegistryToken',
      'apiKey',
      'api_key',
      'Authorization',
      'PRIVATE_KEY',
      'Passphrase',
      'db_passwd',
      'Credentials',
    ]) {
      expect(summary[key], key).toBe(REDACTED);
    }
    expect(summary.author).toBe('Ada <ada@example.com>');
  });

  it('cuts long strings, long arrays and deep nesting', () => {
    const summary = summariseBody({
      long: 'x'.repeat(1000),
      many: Array.from({ length: 50 }, (_, i) => i),
      a: { b: { c: { d: { e: 'too deep' } }, list: [[1]] } },
    }) as Record<string, any>;
    expect(summary.long).toBe(`${'x'.repeat(SUMMARY_LIMITS.string)}… (1000 characters)`);
    expect(summary.many).toEqual([...Array.from({ length: 20 }, (_, i) => i), '[30 more]']);
    // The body is depth 1: `d` and the array inside `list` are depth 5.
    expect(summary.a).toEqual({ b: { c: { d: '[object of 1 keys]' }, list: ['[array of 1]'] } });
  });

  it('keeps the whole summary to about 4 KB', () => {
    const huge = Object.fromEntries(
      Array.from({ length: 500 }, (_, i) => [`key${i}`, { text: 'y'.repeat(300), list: Array(30).fill('z') }]),
    );
    const text = JSON.stringify(summariseBody(huge));
    expect(text.length).toBeLessThanOrEqual(SUMMARY_LIMITS.total + 512);
    expect(text).toMatch(/more keys/);
  });

  it('summarises bodies that are not objects', () => {
    expect(summariseBody(undefined)).toBeNull();
    expect(summariseBody('plain')).toBe('plain');
    expect(summariseBody([1, 'two', null, true])).toEqual([1, 'two', null, true]);
  });
});

describe('isSecretKey', () => {
  it('knows secret keys by part or by word, and leaves look-alikes alone', () => {
    for (const key of ['password', 'x-registry-auth', 'identitytoken', 'SigningCAKey', 'client_secret', 'Cookie']) {
      expect(isSecretKey(key), key).toBe(true);
    }
    for (const key of ['author', 'Image', 'username', 'serveraddress', 'Keyboard', 'monkey', 'Hostname']) {
      expect(isSecretKey(key), key).toBe(false);
    }
  });
});

describe('redactEnvEntry', () => {
  it('redacts only the value, only for names that look secret', () => {
    expect(redactEnvEntry('STRIPE_KEY=sk_live_1')).toBe(`STRIPE_KEY=${REDACTED}`);
    expect(redactEnvEntry('MYSQL_ROOT_PASSWORD=')).toBe(`MYSQL_ROOT_PASSWORD=${REDACTED}`);
    expect(redactEnvEntry('LANG=C.UTF-8')).toBe('LANG=C.UTF-8');
    expect(redactEnvEntry('=odd')).toBe('=odd');
  });
});
