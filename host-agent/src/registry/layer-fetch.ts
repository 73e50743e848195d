/**
 * One layer of a pull: its blob streams from the registry into the content store (which checks
 * size and digest) and, at the same time, through the decompressor and the bomb guard into the
 * layer store's staging area (which checks the diff id). A blob the content store already holds
 * (another image has it, or a pull cut short earlier left it) is unpacked from there instead of
 * downloaded again, and one another pull is downloading is waited for (see blob-transfers.ts).
 */
import { PassThrough, type Readable } from 'node:stream';

import { drainedOrClosed } from '../drained.js';
import { decompress, type Compression } from '../snapshots/compression.js';
import type { ContentStore } from '../snapshots/content-store.js';
import type { Digest } from '../snapshots/digest.js';
import type { LayerStore, StagedLayer } from '../snapshots/layer-store.js';
import { downloadBlob } from './blob-download.js';
import { sharedBlob, type BlobTransfer, type BlobTransfers } from './blob-transfers.js';
import { ExpansionGuard, expansionLimit, type ExpansionLimits } from './expansion-guard.js';
import type { RegistryClient } from './registry-client.js';

const WRITE_BATCH_BYTES = 1024 * 1024;

export interface LayerFetch {
  client: RegistryClient;
  content: ContentStore;
  layers: LayerStore;
  blob: { digest: Digest; size: number };
  diffId: Digest;
  what: string;
  limits?: ExpansionLimits;
  signal?: AbortSignal;
  /** The downloads running in the engine, shared between pulls. */
  transfers: BlobTransfers;
  /** Bytes of the blob received so far (by this pull, or by the one whose download it waits for). */
  onProgress?: (received: number) => void;
  /** The download is over and its digest checked; unpacking may still be finishing. */
  onDownloaded?: () => void;
  /** Bytes of the blob the unpacking has taken so far. */
  onExtracting?: (consumed: number) => void;
  /** The blob was added to the content store (the pull removes it again if it fails). */
  onBlobCreated?: (digest: Digest) => void;
}

export interface FetchedLayer {
  staged: StagedLayer;
  blob: { digest: Digest; size: number; compression: Compression };
  /** The blob is new in the content store (to remove again if the pull fails). */
  created: boolean;
  /** The blob was already in the content store: nothing was downloaded. */
  local: boolean;
}

export async function fetchLayer(fetch: LayerFetch): Promise<FetchedLayer> {
  const { content, layers, blob, what } = fetch;
  const limit = expansionLimit(blob.size, fetch.limits);
  const unpack = async (
    source: AsyncIterable<Uint8Array>,
  ): Promise<{ staged: StagedLayer; compression: Compression }> => {
    const { compression, stream } = await decompress(counted(source, fetch.onExtracting), what);
    const guard = new ExpansionGuard(limit, what);
    stream.on('error', (error) => guard.destroy(error));
    guard.on('error', () => stream.destroy());
    const staged = await layers.stage(stream.pipe(guard), { diffId: fetch.diffId, what });
    layers.flushStagingSoon();
    return { staged, compression };
  };

  return sharedBlob({
    transfers: fetch.transfers,
    digest: blob.digest,
    stored: async () => (await content.size(blob.digest)) === blob.size,
    ...(fetch.signal ? { signal: fetch.signal } : {}),
    ...(fetch.onProgress ? { onProgress: fetch.onProgress } : {}),
    local: async () => {
      const source = await content.openRead(blob.digest);
      fetch.onDownloaded?.();
      const local = await unpack(source);
      return { staged: local.staged, blob: { ...blob, compression: local.compression }, created: false, local: true };
    },
    download: (transfer) => download(fetch, transfer, unpack),
  });
}

async function download(
  fetch: LayerFetch,
  transfer: BlobTransfer,
  unpack: (source: AsyncIterable<Uint8Array>) => Promise<{ staged: StagedLayer; compression: Compression }>,
): Promise<FetchedLayer> {
  const { content, layers, blob, what } = fetch;
  const toUnpack = new PassThrough({ highWaterMark: 1024 * 1024 });
  let unpackFailed = false;
  async function* network(): AsyncGenerator<Buffer[]> {
    // The content store gets the bytes in batches (one writev each): one disk write per 64 KiB
    // network read costs more than the write itself, and joining them would copy every byte.
    let batch: Buffer[] = [];
    let batched = 0;
    try {
      for await (const chunk of downloadBlob({
        client: fetch.client,
        digest: blob.digest,
        size: blob.size,
        what,
        ...(fetch.signal ? { signal: fetch.signal } : {}),
        onProgress: (received) => {
          transfer.progress(received);
          fetch.onProgress?.(received);
        },
      })) {
        // Once unpacking failed the download still runs to its end: a digest mismatch explains
        // a broken layer better than the tar or gzip error it causes.
        if (!unpackFailed && !toUnpack.destroyed) {
          if (!toUnpack.write(chunk)) await drainedOrClosed(toUnpack);
        }
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH_BYTES) {
          yield batch;
          batch = [];
          batched = 0;
        }
      }
      if (batched > 0) yield batch;
      toUnpack.end();
    } catch (error) {
      toUnpack.destroy(error as Error);
      throw error;
    }
  }
  const writing = content.write(network(), { digest: blob.digest, size: blob.size, what }).then(
    (written) => {
      // Pulls waiting for this blob take it from the store now, without waiting for our unpacking.
      transfer.settle();
      if (written.created) fetch.onBlobCreated?.(blob.digest);
      fetch.onDownloaded?.();
      return written;
    },
    (error: unknown) => {
      transfer.settle();
      throw error;
    },
  );
  const unpacking = unpack(toUnpack as Readable).catch((error: unknown) => {
    unpackFailed = true;
    toUnpack.destroy();
    throw error;
  });
  const [written, unpacked] = await Promise.allSettled([writing, unpacking]);
  if (written.status === 'rejected') {
    if (unpacked.status === 'fulfilled') await layers.discard(unpacked.value.staged);
    throw written.reason;
  }
  if (unpacked.status === 'rejected') throw unpacked.reason;
  return {
    staged: unpacked.value.staged,
    blob: { ...blob, compression: unpacked.value.compression },
    created: written.value.created,
    local: false,
  };
}

/** Passes the chunks on, telling how many bytes went through. */
async function* counted(
  source: AsyncIterable<Uint8Array>,
  onProgress: ((consumed: number) => void) | undefined,
): AsyncGenerator<Uint8Array> {
  if (onProgress === undefined) {
    yield* source;
    return;
  }
  let consumed = 0;
  for await (const chunk of source) {
    consumed += chunk.length;
    onProgress(consumed);
    yield chunk;
  }
}
