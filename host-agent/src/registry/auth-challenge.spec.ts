import { describe, expect, it } from 'vitest';

import { findChallenge, parseAuthChallenges } from './auth-challenge.js';

describe(parseAuthChallenges.name, () => {
  it('reads a Bearer challenge with quoted realm, service and scope', () => {
    expect(
      parseAuthChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ]);
  });

  it('reads a Basic challenge, case-insensitively', () => {
    expect(parseAuthChallenges('BASIC Realm="skiff test"')).toEqual([
      { scheme: 'basic', params: { realm: 'skiff test' } },
    ]);
  });

  it('reads several challenges in one header and across headers', () => {
    const challenges = parseAuthChallenges([
      'Basic realm="a", Bearer realm="https://t/x",service=s',
      'Negotiate abc==',
    ]);
    expect(challenges.map((challenge) => challenge.scheme)).toEqual(['basic', 'bearer', 'negotiate']);
    expect(findChallenge(challenges, 'bearer')?.params).toEqual({ realm: 'https://t/x', service: 's' });
    expect(findChallenge(challenges, 'negotiate')?.params).toEqual({ token68: 'abc==' });
  });

  it('unescapes quoted values and keeps commas inside them', () => {
    expect(parseAuthChallenges('Bearer realm="a\\"b",scope="repository:x:pull,push"')[0]?.params).toEqual({
      realm: 'a"b',
      scope: 'repository:x:pull,push',
    });
  });

  it('keeps what it understood of a malformed header and never throws', () => {
    expect(parseAuthChallenges('Bearer realm="unterminated')).toEqual([{ scheme: 'bearer', params: {} }]);
    expect(parseAuthChallenges('')).toEqual([]);
    expect(parseAuthChallenges(undefined)).toEqual([]);
  });
});
