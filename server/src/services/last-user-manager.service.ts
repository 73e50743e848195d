import { Injectable } from '@nestjs/common';
import { conflict } from '../errors/domain-error.js';
import { type GlobalHolding, GrantRepository } from '../repositories/grant.repository.js';

/**
 * Keeps at least one enabled user holding user.manage on every host: without one, nobody could
 * manage people again short of editing the database.
 */
@Injectable()
export class LastUserManagerService {
  constructor(private readonly grants: GrantRepository) {}

  /**
   * Throws `conflict` when the change, which takes away every holding `lost` matches, would leave
   * no enabled user with user.manage. A change that takes none away is always allowed.
   */
  async ensureOneRemains(change: string, lost: (holding: GlobalHolding) => boolean): Promise<void> {
    const holdings = await this.grants.globalHoldings('user.manage');
    if (!holdings.some(lost)) return;
    if (holdings.some((holding) => !lost(holding))) return;
    throw conflict(`cannot ${change}: no other enabled user would be left with the user.manage permission`);
  }
}
