import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, matchTotp, otpauthUri, totpCode, totpStep } from './totp.js';

// RFC 6238 appendix B: the SHA-1 seed and its 8-digit codes.
const RFC_SECRET = Buffer.from('12345678901234567890', 'ascii');
const RFC_VECTORS: Array<[seconds: number, code: string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

const at = (seconds: number) => new Date(seconds * 1000);

describe('TOTP (RFC 6238)', () => {
  it.each(RFC_VECTORS)('gives the RFC test vector at %i s', (seconds, code) => {
    expect(totpCode(RFC_SECRET, totpStep(at(seconds)), 8)).toBe(code);
  });

  it('gives the last six digits as the usual code', () => {
    expect(totpCode(RFC_SECRET, totpStep(at(59)))).toBe('287082');
    expect(totpCode(RFC_SECRET, totpStep(at(1111111109)))).toBe('081804');
  });

  it('accepts the code of the step before and after, and nothing further', () => {
    const now = at(1234567890);
    const step = totpStep(now);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step), now)).toBe(step);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step - 1), now)).toBe(step - 1);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step + 1), now)).toBe(step + 1);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step - 2), now)).toBeNull();
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step + 2), now)).toBeNull();
  });

  it('refuses anything but six digits', () => {
    const now = at(59);
    expect(matchTotp(RFC_SECRET, '94287082', now)).toBeNull();
    expect(matchTotp(RFC_SECRET, ' 287082', now)).toBeNull();
    expect(matchTotp(RFC_SECRET, '', now)).toBeNull();
  });
});

describe('base32 (RFC 4648)', () => {
  it.each([
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ])('encodes "%s" as "%s" (unpadded) and back', (text, encoded) => {
    expect(base32Encode(Buffer.from(text))).toBe(encoded);
    expect(base32Decode(encoded).toString()).toBe(text);
  });

  it('reads padded, lower-case and spaced input', () => {
    expect(base32Decode('mzxw 6ytb oi======').toString()).toBe('foobar');
    expect(() => base32Decode('MZXW1')).toThrow(/"1" is not a base32 character/);
  });
});

describe(otpauthUri.name, () => {
  it('makes a Key Uri Format URI with the secret in base32', () => {
    expect(otpauthUri('Skiff', 'ann@example.com', Buffer.from('foobar'))).toBe(
      'otpauth://totp/Skiff:ann%40example.com?secret=MZXW6YTBOI&issuer=Skiff&algorithm=SHA1&digits=6&period=30',
    );
  });
});
