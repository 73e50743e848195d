import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ServerKeyRepository } from '../repositories/server-key.repository.js';
import { SecretBoxService } from './secret-box.service.js';

const boxWith = (key: Buffer) => new SecretBoxService({ load: () => Promise.resolve(key) } as ServerKeyRepository);

describe(SecretBoxService.name, () => {
  const key = randomBytes(32);
  const box = boxWith(key);
  const secret = Buffer.from('12345678901234567890');

  it('opens what it sealed, and never stores the secret in the clear', async () => {
    const sealed = await box.seal(secret, 'totp:u1');
    expect(sealed).toMatch(/^v1:/);
    expect(sealed).not.toContain(secret.toString('base64'));
    expect(await box.open(sealed, 'totp:u1')).toEqual(secret);
  });

  it('seals the same secret differently each time', async () => {
    expect(await box.seal(secret, 'p')).not.toBe(await box.seal(secret, 'p'));
  });

  it('refuses a value sealed for another purpose, with another key, or changed', async () => {
    const sealed = await box.seal(secret, 'totp:u1');
    await expect(box.open(sealed, 'totp:u2')).rejects.toThrow();
    await expect(boxWith(randomBytes(32)).open(sealed, 'totp:u1')).rejects.toThrow();
    const bytes = Buffer.from(sealed.slice(3), 'base64');
    bytes[bytes.length - 1] ^= 1;
    await expect(box.open(`v1:${bytes.toString('base64')}`, 'totp:u1')).rejects.toThrow();
    await expect(box.open('v2:abc', 'totp:u1')).rejects.toThrow(/format/);
  });
});
