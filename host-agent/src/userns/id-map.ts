/**
 * The engine's user-namespace remapping (`--userns-remap`): which host uids and gids stand for
 * the ids inside every container. Image layers, container upper directories and volumes are
 * stored with host ids (`toHost`), and archives leaving the engine carry container ids again
 * (`toContainer`), so an image saved, exported or copied out is the same as without remapping.
 */
import type { IdMapping } from '../shim/shim-plan.js';

/** The id the kernel shows for a host id with no mapping (the overflow id, "nobody"). */
export const OVERFLOW_ID = 65534;

export class IdMap {
  constructor(
    /** Container uid ranges, in the order of /etc/subuid (the first starts at 0). */
    readonly uids: readonly IdMapping[],
    readonly gids: readonly IdMapping[],
  ) {
    if (uids.length === 0 || gids.length === 0) throw new Error('an id map needs at least one uid and one gid range');
  }

  /** The host ids of the container's root. */
  get root(): { uid: number; gid: number } {
    return { uid: this.hostUid(0), gid: this.hostGid(0) };
  }

  /** Host uid of a container uid; throws when the remapping has no room for it. */
  hostUid(uid: number): number {
    return toOutside(this.uids, uid, 'uid');
  }

  hostGid(gid: number): number {
    return toOutside(this.gids, gid, 'gid');
  }

  /** The container uid a host uid shows as; unmapped ids show as nobody, as the kernel does. */
  containerUid(hostUid: number): number {
    return toInside(this.uids, hostUid);
  }

  containerGid(hostGid: number): number {
    return toInside(this.gids, hostGid);
  }

  /** "0-65535 → 100000-165535" for the first uid range, for logs and `docker info`. */
  describe(): string {
    const describeRange = ({ insideId, outsideId, count }: IdMapping) =>
      `${insideId}-${insideId + count - 1} → ${outsideId}-${outsideId + count - 1}`;
    return `uids ${this.uids.map(describeRange).join(', ')}; gids ${this.gids.map(describeRange).join(', ')}`;
  }
}

/** Raised for a file owned by an id the remapping cannot hold. */
export class UnmappableIdError extends Error {
  constructor(
    readonly kind: 'uid' | 'gid',
    readonly id: number,
  ) {
    super(
      `container ${kind} ${id} cannot be mapped to a host ${kind}: the engine's user namespace remapping is too small for it`,
    );
    this.name = 'UnmappableIdError';
  }
}

function toOutside(ranges: readonly IdMapping[], id: number, kind: 'uid' | 'gid'): number {
  for (const { insideId, outsideId, count } of ranges) {
    if (id >= insideId && id < insideId + count) return outsideId + (id - insideId);
  }
  throw new UnmappableIdError(kind, id);
}

function toInside(ranges: readonly IdMapping[], hostId: number): number {
  for (const { insideId, outsideId, count } of ranges) {
    if (hostId >= outsideId && hostId < outsideId + count) return insideId + (hostId - outsideId);
  }
  return OVERFLOW_ID;
}
