import type { AuditEventEntity } from '../entities/audit-event.entity.js';
import { GENESIS_HASH, auditEventHashMatches } from '../repositories/audit-hash.js';

/** The first row that breaks the chain, and how. */
export interface BrokenLink {
  id: string;
  reason: string;
}

export interface AuditVerification {
  ok: boolean;
  checked: number;
  firstRowId: string | null;
  /** The last row checked: the newest row when the chain holds, else the broken one. */
  lastRowId: string | null;
  brokenAt?: BrokenLink;
}

/**
 * Checks the rows of the audit log one at a time, oldest first, without keeping them: each row's
 * prev_hash must be the hash of the row before it, and its hash must match its content. The first
 * row kept may follow rows removed by retention when an `audit.retention` row vouches for it (its
 * `lastRemovedHash` is the first row's prev_hash); otherwise it must follow the genesis hash.
 */
export class AuditChainVerifier {
  private previous: { id: string; hash: string } | null = null;
  private checked = 0;
  private firstRowId: string | null = null;
  private brokenAt: BrokenLink | undefined;

  /** Whether the first row's prev_hash needs a retention row to vouch for it. */
  static needsVoucher(first: AuditEventEntity): boolean {
    return first.prevHash !== GENESIS_HASH;
  }

  /**
   * Checks the next row; `vouchers` are, for the first row only, the retention rows that say they
   * removed the row whose hash is its prev_hash. Returns false once the chain is broken.
   */
  check(row: AuditEventEntity, vouchers: readonly AuditEventEntity[] = []): boolean {
    if (this.brokenAt) return false;
    this.checked += 1;
    if (this.previous === null) {
      this.firstRowId = row.id;
      if (row.prevHash !== GENESIS_HASH && !vouchers.some((voucher) => vouchesFor(voucher, row))) {
        return this.break(
          row,
          'its prev_hash is neither the genesis hash nor the last removed hash of an audit.retention row: ' +
            'rows before it were removed outside retention',
        );
      }
    } else if (row.prevHash !== this.previous.hash) {
      return this.break(
        row,
        `its prev_hash is not the hash of row ${this.previous.id}: a row between them was removed or inserted, ` +
          `or row ${this.previous.id} and its hash were rewritten`,
      );
    }
    if (!auditEventHashMatches(row.prevHash, row, row.hash)) {
      return this.break(row, 'its hash does not match its content: the row was changed after it was written');
    }
    this.previous = { id: row.id, hash: row.hash };
    return true;
  }

  result(): AuditVerification {
    return {
      ok: this.brokenAt === undefined,
      checked: this.checked,
      firstRowId: this.firstRowId,
      lastRowId: this.brokenAt?.id ?? this.previous?.id ?? null,
      ...(this.brokenAt ? { brokenAt: this.brokenAt } : {}),
    };
  }

  private break(row: AuditEventEntity, reason: string): false {
    this.brokenAt = { id: row.id, reason };
    return false;
  }
}

/** A retention row vouches for a first row when it removed exactly the row before it. */
function vouchesFor(voucher: AuditEventEntity, first: AuditEventEntity): boolean {
  const { lastRemovedHash, lastId } = voucher.details;
  return (
    voucher.action === 'audit.retention' &&
    lastRemovedHash === first.prevHash &&
    typeof lastId === 'string' &&
    /^\d+$/.test(lastId) &&
    BigInt(lastId) < BigInt(first.id)
  );
}
