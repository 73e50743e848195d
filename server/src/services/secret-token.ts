import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Prefixes make a leaked token recognisable (e.g. by secret scanners) and say what it is for. */
export const TOKEN_PREFIX = { apiToken: 'skf_', joinToken: 'skj_', session: 'sks_' } as const;

export interface IssuedToken {
  /** The secret itself: shown once, never stored. */
  token: string;
  /** What is stored: sha256, hex. */
  hash: string;
}

/** 256 random bits: enough entropy that a fast hash is the right way to store it. */
export function issueToken(prefix: string): IssuedToken {
  const token = `${prefix}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
