/**
 * Blobs by digest under `<root>/content/sha256/<hex>`. A blob is written to `<root>/tmp`,
 * hashed while it streams, fsynced and only then renamed into place, so a blob at its name is
 * always complete and always has that digest. A blob whose digest or size differs from what the
 * caller expected is refused and nothing of it is left.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { EngineError, invalidArgument, notFound } from '../engine-error.js';
import { ensureDirectory } from '../state/ensure-directory.js';
import { digestHex, isDigest, type Digest } from './digest.js';
import { writeAll } from './write-all.js';

/** A blob's bytes: whole, or as they come (a chunk may be a batch, written with one writev). */
export type BlobSource = Uint8Array | string | AsyncIterable<Uint8Array | string | readonly Uint8Array[]>;

export interface BlobExpectation {
  digest?: Digest;
  size?: number;
  /** Names the blob in errors, e.g. `layer 2 of busybox:latest`. */
  what?: string;
}

export interface WrittenBlob {
  digest: Digest;
  size: number;
  /** False when the store already had this blob. */
  created: boolean;
}

export class ContentStore {
  readonly blobsDirectory: string;
  readonly temporaryDirectory: string;

  constructor(readonly root: string) {
    this.blobsDirectory = join(root, 'content', 'sha256');
    this.temporaryDirectory = join(root, 'tmp');
  }

  async init(): Promise<void> {
    await ensureDirectory(this.blobsDirectory, 0o700);
    await ensureDirectory(this.temporaryDirectory, 0o700);
  }

  blobPath(digest: Digest): string {
    if (!isDigest(digest)) throw invalidArgument(`invalid digest: ${String(digest)}`);
    return join(this.blobsDirectory, digestHex(digest));
  }

  async has(digest: Digest): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  async size(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async write(source: BlobSource, expected: BlobExpectation = {}): Promise<WrittenBlob> {
    const temporary = join(this.temporaryDirectory, `blob-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const file = await open(temporary, 'wx', 0o644);
      try {
        const chunks = typeof source === 'string' || source instanceof Uint8Array ? [source] : source;
        for await (const chunk of chunks) {
          const parts: readonly Uint8Array[] =
            typeof chunk === 'string' ? [Buffer.from(chunk)] : chunk instanceof Uint8Array ? [chunk] : chunk;
          let length = 0;
          for (const part of parts) {
            hash.update(part);
            length += part.length;
          }
          size += length;
          if (expected.size !== undefined && size > expected.size) throw sizeMismatch(expected, size);
          await writeAll(file, parts, length);
        }
        await file.sync();
      } finally {
        await file.close();
      }
      const digest: Digest = `sha256:${hash.digest('hex')}`;
      if (expected.digest !== undefined && digest !== expected.digest) {
        throw invalidArgument(
          `digest mismatch for ${expected.what ?? 'blob'}: expected ${expected.digest}, got ${digest}`,
        );
      }
      if (expected.size !== undefined && size !== expected.size) throw sizeMismatch(expected, size);
      const target = this.blobPath(digest);
      const created = (await this.size(digest)) === undefined;
      if (created) {
        await rename(temporary, target);
        await syncDirectory(this.blobsDirectory);
      } else {
        await rm(temporary, { force: true });
      }
      return { digest, size, created };
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async read(digest: Digest): Promise<Buffer> {
    try {
      return await readFile(this.blobPath(digest));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`no such blob: ${digest}`);
      throw error;
    }
  }

  async readJson(digest: Digest): Promise<unknown> {
    const bytes = await this.read(digest);
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch (error) {
      throw new EngineError('invalid-argument', `blob ${digest} is not valid JSON`, { cause: error });
    }
  }

  /** Opens the blob now, so a missing blob is reported here rather than on the stream. */
  async openRead(digest: Digest): Promise<ReadStream> {
    const path = this.blobPath(digest);
    const handle = await open(path, 'r').catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`no such blob: ${digest}`);
      throw error;
    });
    return createReadStream(path, { fd: handle, autoClose: true });
  }

  async delete(digest: Digest): Promise<boolean> {
    const existed = await this.has(digest);
    await rm(this.blobPath(digest), { force: true });
    return existed;
  }

  async list(): Promise<Digest[]> {
    const names = await readdir(this.blobsDirectory).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    });
    return names.map((name) => `sha256:${name}`).filter(isDigest);
  }
}

function sizeMismatch(expected: BlobExpectation, size: number): Error {
  return invalidArgument(
    `size mismatch for ${expected.what ?? 'blob'}${expected.digest ? ` ${expected.digest}` : ''}: expected ${expected.size} bytes, got ${size}${size > (expected.size ?? 0) ? ' or more' : ''}`,
  );
}

export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
