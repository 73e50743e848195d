import * as argon2 from 'argon2';

/** argon2id with the library's defaults; the hash carries its own parameters and salt. */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

export function passwordMatches(hash: string, password: string): Promise<boolean> {
  return argon2.verify(hash, password);
}
