import { Injectable } from '@nestjs/common';
import type { UserEntity } from '../entities/user.entity.js';
import { UserRepository } from '../repositories/user.repository.js';
import { Clock } from './clock.js';
import { SecretBoxService } from './secret-box.service.js';
import { base32Encode, matchTotp, newTotpSecret, otpauthUri } from './totp.js';

export const TOTP_ISSUER = 'Skiff';

export interface TotpEnrolment {
  /** Base32, for typing into an authenticator app. */
  secret: string;
  /** otpauth://totp/…, for a QR code. */
  uri: string;
}

/** A user's TOTP secret: made, sealed into the users table, and checked against codes. */
@Injectable()
export class TotpService {
  constructor(
    private readonly users: UserRepository,
    private readonly box: SecretBoxService,
    private readonly clock: Clock,
  ) {}

  /** Stores a new secret, not in force until confirmed; returns it, to be shown this once. */
  async startEnrolment(user: UserEntity): Promise<TotpEnrolment> {
    const secret = newTotpSecret();
    await this.users.setTotp(user.id, {
      totpSecret: await this.box.seal(secret, purpose(user.id)),
      totpEnabledAt: null,
    });
    return { secret: base32Encode(secret), uri: otpauthUri(TOTP_ISSUER, user.username, secret) };
  }

  /** True when the code is the user's for now (±1 step) and was not used before. */
  async verify(user: UserEntity, code: string): Promise<boolean> {
    if (!user.totpSecret) return false;
    const step = matchTotp(await this.box.open(user.totpSecret, purpose(user.id)), code, this.clock.now());
    return step !== null && (await this.users.useTotpStep(user.id, step));
  }

  async confirm(user: UserEntity): Promise<void> {
    await this.users.setTotpEnabled(user.id, this.clock.now());
  }

  async clear(user: UserEntity): Promise<void> {
    await this.users.setTotp(user.id, { totpSecret: null, totpEnabledAt: null });
  }
}

const purpose = (userId: string) => `totp:${userId}`;
