import { writevSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * writev until every byte is written (a regular file takes all at once unless the disk is full).
 * Any number of pieces: libuv splits a longer list than IOV_MAX into several writev calls itself.
 */
export async function writeAll(file: FileHandle, parts: readonly Uint8Array[], length: number): Promise<void> {
  let rest = parts;
  let left = length;
  while (left > 0) {
    const { bytesWritten } = await file.writev(rest as Uint8Array[]);
    left -= bytesWritten;
    if (left > 0) rest = unwritten(rest, bytesWritten);
  }
}

/** `writeAll` on the calling thread, for a write too small to be worth a trip through the thread pool. */
export function writeAllSync(fd: number, parts: readonly Uint8Array[], length: number): void {
  let rest = parts;
  let left = length;
  while (left > 0) {
    const bytesWritten = writevSync(fd, rest);
    left -= bytesWritten;
    if (left > 0) rest = unwritten(rest, bytesWritten);
  }
}

/** What is left of `parts` after the first `written` bytes. */
function unwritten(parts: readonly Uint8Array[], written: number): Uint8Array[] {
  if (written === 0) throw new Error('the disk took no more bytes');
  let skip = written;
  const remaining: Uint8Array[] = [];
  for (const part of parts) {
    if (skip >= part.length) skip -= part.length;
    else {
      remaining.push(skip > 0 ? part.subarray(skip) : part);
      skip = 0;
    }
  }
  return remaining;
}
