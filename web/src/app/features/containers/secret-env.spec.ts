import { describe, expect, it } from 'vitest';

import { MASK, isSecretName, maskEnv, parseEnv } from './secret-env';

describe(isSecretName.name, () => {
  it.each([
    'DB_PASSWORD',
    'MYSQL_ROOT_PASSWD',
    'pgpass',
    'API_TOKEN',
    'AWS_SECRET_ACCESS_KEY',
    'SSH_PRIVATE',
    'AUTH_HEADER',
    'TLS_CERT',
    'SENTRY_DSN',
    'DB_CONNECTION_STRING',
  ])('treats %s as a secret', (name) => expect(isSecretName(name)).toBe(true));

  it.each(['PATH', 'HOME', 'MODE', 'LANG', 'PORT', 'NODE_ENV'])('shows %s as it is', (name) =>
    expect(isSecretName(name)).toBe(false),
  );
});

describe(parseEnv.name, () => {
  it('splits each line at its first = and flags secret-looking names', () => {
    expect(parseEnv(['MODE=demo', 'DB_PASSWORD=a=b=c', 'EMPTY=', 'FLAG'])).toEqual([
      { name: 'MODE', value: 'demo', secret: false },
      { name: 'DB_PASSWORD', value: 'a=b=c', secret: true },
      { name: 'EMPTY', value: '', secret: false },
      { name: 'FLAG', value: '', secret: false },
    ]);
  });

  it('reads a container without environment as none', () => {
    expect(parseEnv(undefined)).toEqual([]);
  });
});

describe(maskEnv.name, () => {
  it('replaces the values of secret-looking names and leaves the rest', () => {
    const masked = maskEnv(['MODE=demo', 'DB_PASSWORD=hunter2', 'API_TOKEN=abc=def', 'PATH=/bin']);
    expect(masked).toEqual(['MODE=demo', `DB_PASSWORD=${MASK}`, `API_TOKEN=${MASK}`, 'PATH=/bin']);
    expect(masked!.join('\n')).not.toContain('hunter2');
    expect(masked!.join('\n')).not.toContain('def');
  });

  it('keeps a name without a value, and no environment as none', () => {
    expect(maskEnv(['PASSWORD'])).toEqual(['PASSWORD']);
    expect(maskEnv(undefined)).toBeUndefined();
  });
});
