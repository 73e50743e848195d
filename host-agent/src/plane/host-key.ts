import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/** The host's Ed25519 key: the private half never leaves the host, the public half is its enrolled credential. */
export class HostKey {
  private constructor(private readonly privateKey: KeyObject) {}

  static generate(): HostKey {
    return new HostKey(generateKeyPairSync('ed25519').privateKey);
  }

  /** Throws when `pem` is not a PKCS8 Ed25519 private key. */
  static fromPem(pem: string): HostKey {
    const privateKey = createPrivateKey({ key: pem, format: 'pem' });
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new Error(`expected an ed25519 key, found ${privateKey.asymmetricKeyType ?? 'an unknown key type'}`);
    }
    return new HostKey(privateKey);
  }

  /** SPKI DER in base64, the form the server stores. */
  get publicKey(): string {
    return createPublicKey(this.privateKey).export({ format: 'der', type: 'spki' }).toString('base64');
  }

  toPem(): string {
    return this.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  /** A base64 Ed25519 signature; Ed25519 hashes internally, hence no digest name. */
  sign(payload: Buffer): string {
    return sign(null, payload, this.privateKey).toString('base64');
  }
}
