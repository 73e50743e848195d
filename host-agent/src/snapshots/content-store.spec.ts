import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ContentStore } from './content-store.js';
import type { Digest } from './digest.js';

const digestOf = (text: string): Digest => `sha256:${createHash('sha256').update(text).digest('hex')}`;

async function* pieces(...parts: string[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield await Promise.resolve(Buffer.from(part));
}

describe(ContentStore.name, () => {
  let root: string;
  let store: ContentStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'skiff-content-'));
    store = new ContentStore(root);
    await store.init();
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('stores a blob under content/sha256/<hex> and reports its digest and size', async () => {
    const written = await store.write(pieces('hello ', 'world'));
    expect(written).toEqual({ digest: digestOf('hello world'), size: 11, created: true });
    expect(readFileSync(join(root, 'content/sha256', digestOf('hello world').slice(7)), 'utf8')).toBe('hello world');
    expect(await store.has(digestOf('hello world'))).toBe(true);
  });

  it('takes a chunk that is a batch of pieces (one writev) as those bytes in order', async () => {
    async function* batches(): AsyncGenerator<Buffer | Buffer[]> {
      yield await Promise.resolve([Buffer.from('hello '), Buffer.from('wide ')]);
      yield Buffer.from('wor');
      yield [Buffer.from('ld'), Buffer.alloc(0), Buffer.from('!')];
    }
    const written = await store.write(batches(), { digest: digestOf('hello wide world!'), size: 17 });
    expect(written).toMatchObject({ digest: digestOf('hello wide world!'), size: 17, created: true });
    expect(readFileSync(join(root, 'content/sha256', digestOf('hello wide world!').slice(7)), 'utf8')).toBe(
      'hello wide world!',
    );
  });

  it('accepts a blob whose digest and size are as expected', async () => {
    await expect(store.write('abc', { digest: digestOf('abc'), size: 3 })).resolves.toMatchObject({ created: true });
  });

  it('refuses a blob whose digest differs and leaves nothing', async () => {
    await expect(store.write('tampered', { digest: digestOf('original'), what: 'layer 1 of busybox' })).rejects.toThrow(
      `digest mismatch for layer 1 of busybox: expected ${digestOf('original')}, got ${digestOf('tampered')}`,
    );
    expect(readdirSync(join(root, 'content/sha256'))).toEqual([]);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('refuses a blob longer than its expected size without reading it all', async () => {
    await expect(store.write(pieces('abc', 'def'), { size: 4 })).rejects.toThrow(
      /size mismatch for blob: expected 4 bytes, got 6 or more/,
    );
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('refuses a blob shorter than its expected size', async () => {
    await expect(store.write('ab', { size: 4 })).rejects.toThrow(/expected 4 bytes, got 2/);
  });

  it('keeps one copy of a blob written twice', async () => {
    await store.write('same');
    expect(await store.write('same')).toMatchObject({ created: false });
    expect(await store.list()).toEqual([digestOf('same')]);
  });

  it('reads a blob back, as bytes, as JSON and as a stream', async () => {
    const { digest } = await store.write('{"a":1}');
    expect((await store.read(digest)).toString()).toBe('{"a":1}');
    expect(await store.readJson(digest)).toEqual({ a: 1 });
    const chunks: Buffer[] = [];
    for await (const chunk of await store.openRead(digest)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('{"a":1}');
  });

  it('reports a missing blob as not found', async () => {
    await expect(store.read(digestOf('nothing'))).rejects.toMatchObject({ kind: 'not-found' });
    await expect(store.openRead(digestOf('nothing'))).rejects.toThrow(`no such blob: ${digestOf('nothing')}`);
  });

  it('deletes a blob', async () => {
    const { digest } = await store.write('gone');
    expect(await store.delete(digest)).toBe(true);
    expect(existsSync(store.blobPath(digest))).toBe(false);
    expect(await store.delete(digest)).toBe(false);
  });

  it('refuses a malformed digest', () => {
    expect(() => store.blobPath('sha256:../../etc')).toThrow(/invalid digest/);
  });
});
