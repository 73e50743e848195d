import type { FileHandle } from 'node:fs/promises';

/** writev until every byte is written (a regular file takes all at once unless the disk is full). */
export async function writeAll(file: FileHandle, parts: readonly Uint8Array[], length: number): Promise<void> {
  let rest = parts;
  let left = length;
  while (left > 0) {
    const { bytesWritten } = await file.writev(rest as Uint8Array[]);
    if (bytesWritten === 0) throw new Error('the disk took no more bytes');
    left -= bytesWritten;
    if (left === 0) return;
    let skip = bytesWritten;
    const remaining: Uint8Array[] = [];
    for (const part of rest) {
      if (skip >= part.length) skip -= part.length;
      else {
        remaining.push(skip > 0 ? part.subarray(skip) : part);
        skip = 0;
      }
    }
    rest = remaining;
  }
}
