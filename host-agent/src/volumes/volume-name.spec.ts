import { describe, expect, it } from 'vitest';
import { anonymousVolumeName, isValidVolumeName, validateVolumeName } from './volume-name.js';

describe(validateVolumeName.name, () => {
  it.each(['db', 'my-app_data.v2', 'A1', '0cache'])('accepts %s', (name) => {
    expect(() => validateVolumeName(name)).not.toThrow();
  });

  it.each(['a', '-data', '.data', '_data', 'my/data', '../etc', 'da ta', '', 'dätä', '/srv/data'])(
    'refuses %j with a 400 that names it',
    (name) => {
      expect(() => validateVolumeName(name)).toThrow(
        expect.objectContaining({ kind: 'invalid-argument', message: expect.stringContaining(JSON.stringify(name)) }),
      );
    },
  );

  it('refuses a name longer than a directory name can be', () => {
    expect(isValidVolumeName('a'.repeat(255))).toBe(true);
    expect(() => validateVolumeName('a'.repeat(256))).toThrow(/longer than 255 characters/);
  });
});

describe(anonymousVolumeName.name, () => {
  it('is 64 hex digits, different each time, and a valid name', () => {
    const first = anonymousVolumeName();
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(anonymousVolumeName()).not.toBe(first);
    expect(isValidVolumeName(first)).toBe(true);
  });
});
