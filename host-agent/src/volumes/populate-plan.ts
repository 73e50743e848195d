/** What the image has at the volume's path. */
export type ImageSource = 'directory' | 'missing' | 'not-a-directory';

export interface PopulateState {
  populated: boolean;
  /** Entries in `_data` now. */
  dataEntries: number;
  source: ImageSource;
  /** `_data` is a mount point (a volume with `type`/`device`). */
  mounted: boolean;
  /** Containers holding the volume through mountFor, the caller's included. */
  holders: number;
}

export type PopulateDecision =
  | { action: 'skip'; reason: 'already-populated' | 'no-source' }
  /** Someone wrote to the volume first: record it as populated, copy nothing. */
  | { action: 'mark-populated' }
  /** Copy next to `_data`, rename over the empty `_data`: one atomic step. */
  | { action: 'rename-over' }
  /**
   * Copy into a staging directory inside `_data`, then move the entries up. For a mount point,
   * which cannot be renamed over (EBUSY), and for a volume another container already has bound
   * into its root filesystem, which would keep seeing the old, empty `_data`.
   */
  | { action: 'in-place' };

/**
 * Docker's copy-up: the image's content at the mount path goes into a volume on its first use
 * while the volume is empty. An image without that path leaves the volume as it is and eligible
 * (Docker copies whenever it finds the volume empty); an empty directory still gives the volume
 * its mode and owner.
 */
export function planPopulate(state: PopulateState): PopulateDecision {
  if (state.populated) return { action: 'skip', reason: 'already-populated' };
  if (state.dataEntries > 0) return { action: 'mark-populated' };
  switch (state.source) {
    case 'missing':
    case 'not-a-directory':
      return { action: 'skip', reason: 'no-source' };
    case 'directory':
      return state.mounted || state.holders > 1 ? { action: 'in-place' } : { action: 'rename-over' };
  }
}
