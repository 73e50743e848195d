import { BUILT_IN_ROLES, BUILT_IN_ROLE_NAMES } from '@skiff/protocol';
import { describe, expect, it } from 'vitest';
import { AccessControl1764460800000 } from '../../../migrations/src/1764460800000-AccessControl.js';

describe(AccessControl1764460800000.name, () => {
  it('seeds exactly the built-in roles the code knows, with the same permissions in the same order', () => {
    const seeded = AccessControl1764460800000.BUILT_IN_ROLES;
    expect(seeded.map((role) => role.name)).toEqual([...BUILT_IN_ROLE_NAMES]);
    for (const name of BUILT_IN_ROLE_NAMES) {
      expect(seeded.find((role) => role.name === name)?.permissions, name).toEqual([...BUILT_IN_ROLES[name]]);
    }
  });
});
