/**
 * One download of a blob at a time, whatever the number of pulls that need it: a pull that finds
 * the blob being downloaded by another one waits for that download (and is told its progress, as
 * dockerd's transfer manager shows one download to every pull that joins it), then takes the blob
 * from the content store. If that download fails or its pull is cancelled, the waiting pull looks
 * again and downloads the blob itself.
 */
import type { Digest } from '../snapshots/digest.js';
import { aborted } from './registry-http.js';

/** The side of a running download that reports it. */
export interface BlobTransfer {
  /** Bytes received so far (passed on to the pulls waiting for it). */
  progress(received: number): void;
  /** The blob is in the content store, or the download is over without it; called once. */
  settle(): void;
}

interface Running {
  received: number;
  watchers: Set<(received: number) => void>;
  settled: Promise<void>;
  settle: () => void;
}

export class BlobTransfers {
  private readonly running = new Map<Digest, Running>();

  /** Whether a download of the blob is running. */
  has(digest: Digest): boolean {
    return this.running.has(digest);
  }

  /**
   * Registers the caller as the one downloading the blob. Synchronous, so a caller that found
   * none running (`has`) cannot race another one into downloading it too.
   */
  start(digest: Digest): BlobTransfer {
    if (this.running.has(digest)) throw new Error(`internal: blob ${digest} is being downloaded already`);
    let settle!: () => void;
    const entry: Running = {
      received: 0,
      watchers: new Set(),
      settled: new Promise<void>((resolve) => (settle = resolve)),
      settle: () => undefined,
    };
    entry.settle = () => {
      if (this.running.get(digest) === entry) this.running.delete(digest);
      entry.watchers.clear();
      settle();
    };
    this.running.set(digest, entry);
    return {
      progress: (received) => {
        entry.received = received;
        for (const watch of entry.watchers) watch(received);
      },
      settle: entry.settle,
    };
  }

  /**
   * Waits until the running download of the blob is over, well or not (the caller then looks
   * in the content store), passing its progress on; rejects only when `signal` aborts.
   */
  async wait(digest: Digest, signal?: AbortSignal, onProgress?: (received: number) => void): Promise<void> {
    const entry = this.running.get(digest);
    if (entry === undefined) return;
    signal?.throwIfAborted();
    if (onProgress !== undefined) {
      if (entry.received > 0) onProgress(entry.received);
      entry.watchers.add(onProgress);
    }
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        entry.settled,
        new Promise<never>((_, reject) => {
          onAbort = () => reject(aborted(signal));
          signal?.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      if (onProgress !== undefined) entry.watchers.delete(onProgress);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }
}

export interface SharedBlob<T> {
  transfers: BlobTransfers;
  digest: Digest;
  /** Whether the content store holds the whole blob. */
  stored: () => Promise<boolean>;
  signal?: AbortSignal;
  /** Told the bytes received by a download this one waits for. */
  onProgress?: (received: number) => void;
  /** Uses the blob the content store holds. */
  local: () => Promise<T>;
  /** Downloads the blob; must `settle` the transfer as soon as the blob is stored or will not be. */
  download: (transfer: BlobTransfer) => Promise<T>;
}

/** Takes the blob from the content store, from another pull's download, or downloads it. */
export async function sharedBlob<T>(shared: SharedBlob<T>): Promise<T> {
  const { transfers, digest } = shared;
  for (;;) {
    shared.signal?.throwIfAborted();
    if (await shared.stored()) return shared.local();
    // No await between this check and `start`: two pulls never both decide to download.
    if (transfers.has(digest)) {
      await transfers.wait(digest, shared.signal, shared.onProgress);
      continue;
    }
    const transfer = transfers.start(digest);
    try {
      return await shared.download(transfer);
    } finally {
      transfer.settle();
    }
  }
}
