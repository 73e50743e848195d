/**
 * A blob's bytes from a registry, resumed where they stopped when the connection breaks (a
 * `Range` request, up to a few times), and never more or fewer than the manifest says: the
 * content store that receives them checks the digest.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { EngineError, invalidArgument } from '../engine-error.js';
import type { Digest } from '../snapshots/digest.js';
import type { RegistryClient } from './registry-client.js';
import { registryError } from './registry-error.js';
import { aborted, ConnectionError, header } from './registry-http.js';

export interface BlobDownload {
  client: RegistryClient;
  digest: Digest;
  /** The size the manifest gives. */
  size: number;
  /** Names the blob in errors: `layer 2 of 127.0.0.1:5000/app:1`. */
  what: string;
  /** Told the bytes received so far, after each chunk. */
  onProgress?: (received: number) => void;
  signal?: AbortSignal;
  /** Connections tried in all (default 5). */
  attempts?: number;
}

export async function* downloadBlob(download: BlobDownload): AsyncGenerator<Buffer> {
  const { client, digest, size, what, signal } = download;
  const attempts = download.attempts ?? 5;
  let received = 0;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await client.getBlob(digest, received);
      let skip = 0;
      if (response.status === 206) {
        const start = /^bytes (\d+)-/.exec(header(response, 'content-range') ?? '')?.[1];
        if (start === undefined || Number(start) !== received) {
          response.body.destroy();
          throw new ConnectionError(`${what}: the registry resumed the download at the wrong place`);
        }
      } else if (response.status === 200) {
        // The registry ignored the Range request: read past what we have.
        skip = received;
        const length = Number(header(response, 'content-length'));
        if (Number.isFinite(length) && header(response, 'content-length') !== undefined && length !== size) {
          response.body.destroy();
          throw invalidArgument(
            `size mismatch for ${what} ${digest}: the manifest says ${size} bytes, the registry has ${length} (truncated or corrupt blob)`,
          );
        }
      } else {
        throw await registryError(response, `cannot download ${what} ${digest}`);
      }
      for await (const chunk of response.body) {
        let bytes = chunk as Buffer;
        if (skip > 0) {
          const dropped = Math.min(skip, bytes.length);
          skip -= dropped;
          bytes = bytes.subarray(dropped);
          if (bytes.length === 0) continue;
        }
        received += bytes.length;
        if (received > size) {
          response.body.destroy();
          throw invalidArgument(
            `size mismatch for ${what} ${digest}: the registry sent more than the ${size} bytes the manifest says`,
          );
        }
        download.onProgress?.(received);
        yield bytes;
      }
      if (received === size) return;
      throw invalidArgument(
        `size mismatch for ${what} ${digest}: expected ${size} bytes, the registry sent ${received} (truncated blob)`,
      );
    } catch (error) {
      if (signal?.aborted === true) throw aborted(signal);
      const retriable = error instanceof ConnectionError || !(error instanceof EngineError);
      if (!retriable || attempt >= attempts) {
        if (error instanceof EngineError) throw error;
        throw new ConnectionError(`cannot download ${what} ${digest}: ${(error as Error).message}`);
      }
      await sleep(Math.min(200 * 2 ** (attempt - 1), 3000), undefined, signal ? { signal } : {}).catch(() => {
        throw aborted(signal);
      });
    }
  }
}
