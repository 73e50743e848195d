import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { UserRepository } from '../repositories/user.repository.js';
import { AuditService } from './audit.service.js';
import { hashPassword } from './password-hash.js';

export const ADMIN_USERNAME = 'admin';

export type AdminBootstrap = { created: false } | { created: true; generatedPassword: string | null };

@Injectable()
export class BootstrapService {
  constructor(
    private readonly users: UserRepository,
    private readonly audit: AuditService,
  ) {}

  /**
   * On the first start, creates `admin`, with the admin role on every host, and the given password
   * or a generated one (returned once).
   */
  async ensureAdmin(password: string | undefined): Promise<AdminBootstrap> {
    if ((await this.users.count()) > 0) return { created: false };
    const chosen = password ?? randomBytes(18).toString('base64url');
    const user = await this.users.createWithGlobalRole(ADMIN_USERNAME, await hashPassword(chosen), 'admin');
    await this.audit.record({ system: true }, null, {
      action: 'user.create',
      outcome: 'success',
      target: user.id,
      details: { username: ADMIN_USERNAME, role: 'admin', reason: 'first start' },
    });
    return { created: true, generatedPassword: password ? null : chosen };
  }
}
