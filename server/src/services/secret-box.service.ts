import { Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ServerKeyRepository } from '../repositories/server-key.repository.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals small secrets for the database with AES-256-GCM under the server key. The purpose (e.g.
 * `totp:<user id>`) is bound in as associated data, so a sealed value copied to another row or
 * another use does not open.
 */
@Injectable()
export class SecretBoxService {
  constructor(private readonly keys: ServerKeyRepository) {}

  /** `v1:<base64 of iv | tag | ciphertext>` */
  async seal(plaintext: Buffer, purpose: string): Promise<string> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', await this.keys.load(), iv);
    cipher.setAAD(Buffer.from(purpose, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64')}`;
  }

  /** Throws when the value was not sealed for this purpose with this key, or was changed. */
  async open(sealed: string, purpose: string): Promise<Buffer> {
    const [version, body] = sealed.split(':', 2);
    if (version !== VERSION || body === undefined) throw new Error(`unknown sealed secret format "${version}"`);
    const bytes = Buffer.from(body, 'base64');
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('sealed secret is too short');
    const decipher = createDecipheriv('aes-256-gcm', await this.keys.load(), bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(purpose, 'utf8'));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  }
}
