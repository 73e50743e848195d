import { describe, expect, it } from 'vitest';

import type { Digest } from '../snapshots/digest.js';
import { BlobTransfers, sharedBlob, type BlobTransfer } from './blob-transfers.js';

const DIGEST: Digest = `sha256:${'a'.repeat(64)}`;

/** A content store of one blob, and downloads the test finishes or fails by hand. */
function world() {
  const transfers = new BlobTransfers();
  let stored = false;
  const downloads: { transfer: BlobTransfer; finish: () => void; fail: (error: Error) => void }[] = [];
  const fetch = (signal?: AbortSignal, progress: number[] = []) =>
    sharedBlob({
      transfers,
      digest: DIGEST,
      stored: () => Promise.resolve(stored),
      ...(signal ? { signal } : {}),
      onProgress: (received) => progress.push(received),
      local: () => Promise.resolve('from the store'),
      download: (transfer) =>
        new Promise<string>((resolve, reject) => {
          downloads.push({
            transfer,
            finish: () => {
              stored = true;
              transfer.settle();
              resolve('downloaded');
            },
            fail: (error) => {
              transfer.settle();
              reject(error);
            },
          });
        }),
    });
  return { transfers, downloads, fetch };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe(BlobTransfers.name, () => {
  it('downloads a blob once for two pulls: the second waits, sees the progress, and takes it from the store', async () => {
    const { downloads, fetch } = world();
    const progress: number[] = [];
    const first = fetch();
    await tick();
    const second = fetch(undefined, progress);
    await tick();
    downloads[0].transfer.progress(10);
    downloads[0].transfer.progress(20);
    downloads[0].finish();
    expect(await first).toBe('downloaded');
    expect(await second).toBe('from the store');
    expect(downloads).toHaveLength(1);
    expect(progress).toEqual([10, 20]);
  });

  it('lets the waiting pull download the blob itself when the first download fails', async () => {
    const { downloads, fetch } = world();
    const first = fetch();
    await tick();
    const second = fetch();
    await tick();
    downloads[0].fail(new Error('the client went away'));
    await expect(first).rejects.toThrow('the client went away');
    await tick();
    expect(downloads).toHaveLength(2);
    downloads[1].finish();
    expect(await second).toBe('downloaded');
  });

  it('stops waiting when the waiting pull is cancelled, and leaves the download running', async () => {
    const { downloads, fetch, transfers } = world();
    const first = fetch();
    await tick();
    const cancel = new AbortController();
    const second = fetch(cancel.signal);
    await tick();
    cancel.abort(new Error('cancelled'));
    await expect(second).rejects.toThrow('cancelled');
    expect(transfers.has(DIGEST)).toBe(true);
    downloads[0].finish();
    expect(await first).toBe('downloaded');
    expect(transfers.has(DIGEST)).toBe(false);
  });
});
