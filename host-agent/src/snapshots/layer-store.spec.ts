import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeSysCalls } from '../sys/fake-sys-calls.js';
import { ContentStore } from './content-store.js';
import { chainIds, digestHex, sha256Digest } from './digest.js';
import { LayerStore } from './layer-store.js';
import { tarBuffer } from './tar-packer.js';

describe(LayerStore.name, () => {
  let root: string;
  let content: ContentStore;
  let layers: LayerStore;

  let sys: FakeSysCalls;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'skiff-layers-'));
    content = new ContentStore(root);
    await content.init();
    sys = new FakeSysCalls();
    layers = new LayerStore(root, content, sys);
    await layers.init();
  });

  it('spreads the layers it unpacks over the filesystem: its staging directory is a top directory', async () => {
    expect(sys.callsOf('markTopDirectory')).toEqual([{ call: 'markTopDirectory', path: join(root, 'tmp') }]);
    // Only a hint: a filesystem that refuses it does not stop the store.
    const refusing = new FakeSysCalls();
    refusing.failOn('markTopDirectory', 'EPERM');
    const other = new LayerStore(root, content, refusing);
    await expect(other.init()).resolves.toBeUndefined();
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const layerTar = (name: string, text: string) => tarBuffer([{ header: { name, type: 'file' }, body: text }]);

  it('unpacks a layer under its chain id and records what it is', async () => {
    const tar = await layerTar('hello.txt', 'hi');
    const { digest } = await content.write(tar);
    const record = await layers.unpack({ blob: digest, diffId: sha256Digest(tar) });
    expect(record).toMatchObject({
      chainId: sha256Digest(tar),
      diffId: sha256Digest(tar),
      size: 2,
      diffSize: tar.length,
    });
    expect(record.blob).toEqual({ digest, size: tar.length, compression: 'none' });
    expect(readFileSync(join(layers.diffDirectory(record.chainId), 'hello.txt'), 'utf8')).toBe('hi');
    expect(await layers.get(record.chainId)).toEqual(record);
    expect(readlinkSync(layers.shortDiffPath(record.chainId))).toBe(`../layers/${digestHex(record.chainId)}/diff`);
  });

  it('unpacks a gzip layer and checks the diff id of its uncompressed tar', async () => {
    const tar = await layerTar('a', 'b');
    const { digest } = await content.write(gzipSync(tar));
    const record = await layers.unpack({ blob: digest, diffId: sha256Digest(tar) });
    expect(record.blob.compression).toBe('gzip');
  });

  it('gives the second layer of a stack the chain id of both', async () => {
    const base = await layerTar('a', '1');
    const top = await layerTar('b', '2');
    const first = await layers.unpack({ blob: (await content.write(base)).digest, diffId: sha256Digest(base) });
    const second = await layers.unpack({
      blob: (await content.write(top)).digest,
      diffId: sha256Digest(top),
      parent: first.chainId,
    });
    expect(second.chainId).toBe(chainIds([sha256Digest(base), sha256Digest(top)])[1]);
    expect(second.parent).toBe(first.chainId);
  });

  it('unpacks a chain id only once', async () => {
    const tar = await layerTar('a', '1');
    const { digest } = await content.write(tar);
    const [one, two] = await Promise.all([
      layers.unpack({ blob: digest, diffId: sha256Digest(tar) }),
      layers.unpack({ blob: digest, diffId: sha256Digest(tar) }),
    ]);
    expect(one).toEqual(two);
    expect(readdirSync(join(root, 'layers'))).toEqual([digestHex(one.chainId)]);
  });

  it('refuses a layer whose diff id is not the promised one and leaves nothing', async () => {
    const tar = await layerTar('a', '1');
    const { digest } = await content.write(tar);
    const promised = sha256Digest('something else');
    await expect(layers.unpack({ blob: digest, diffId: promised, what: 'layer 1 of busybox:latest' })).rejects.toThrow(
      `diff id mismatch for layer 1 of busybox:latest: the image expects ${promised}, the layer is ${sha256Digest(tar)}`,
    );
    expect(readdirSync(join(root, 'layers'))).toEqual([]);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('checks the blob of a layer it already has against the diff id', async () => {
    const tar = await layerTar('a', '1');
    await layers.unpack({ blob: (await content.write(tar)).digest, diffId: sha256Digest(tar) });
    const impostor = await content.write(gzipSync(await layerTar('a', '2')));
    await expect(
      layers.unpack({ blob: impostor.digest, diffId: sha256Digest(tar), what: 'layer 1 of x' }),
    ).rejects.toThrow(/diff id mismatch for layer 1 of x: the image expects sha256:/);
    const honest = await content.write(gzipSync(tar));
    await expect(layers.unpack({ blob: honest.digest, diffId: sha256Digest(tar) })).resolves.toMatchObject({
      diffId: sha256Digest(tar),
    });
  });

  it('unpacks a zstd layer', async () => {
    // A tar holding hello.txt ("zstd!"), through `zstd -19`.
    const zst = Buffer.from(
      '28b52ffd6400273d020032430b11b0eb67140272f2c3a294a20de03ea04b010e685df4ef76d63dfbc09a6af2c62429395cee4cbd17ae606b2515092050b70ef7852f73a8f33c67351f0b0e1814c06e525dbac47f1e',
      'hex',
    );
    const { digest } = await content.write(zst);
    const record = await layers.unpack({
      blob: digest,
      diffId: 'sha256:59d386114599ed10f9da43e2a009060e79fba6ff689c8e1d3fa2a0b48e50bead',
    });
    expect(record.blob.compression).toBe('zstd');
    expect(readFileSync(join(layers.diffDirectory(record.chainId), 'hello.txt'), 'utf8')).toBe('zstd!');
  });

  it('refuses a broken zstd layer with a clear message', async () => {
    const { digest } = await content.write(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]));
    await expect(layers.unpack({ blob: digest, what: 'layer 1 of x' })).rejects.toThrow(
      'cannot unpack layer 1 of x: layer 1 of x is a truncated zstd stream',
    );
  });

  it('refuses a malicious layer, naming the entry, and leaves nothing', async () => {
    const tar = await tarBuffer([{ header: { name: '../../escape', type: 'file' }, body: 'x' }]);
    const { digest } = await content.write(tar);
    await expect(layers.unpack({ blob: digest, what: 'layer 1 of evil' })).rejects.toThrow(
      'cannot unpack layer 1 of evil: refusing tar entry "../../escape": path has a ".." component',
    );
    expect(readdirSync(join(root, 'layers'))).toEqual([]);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(existsSync(join(root, '..', 'escape'))).toBe(false);
  });

  it('requires the parent layer to exist', async () => {
    const tar = await layerTar('a', '1');
    const { digest } = await content.write(tar);
    await expect(layers.unpack({ blob: digest, parent: sha256Digest('nope') })).rejects.toMatchObject({
      kind: 'not-found',
    });
  });

  it('deletes a layer and its short link', async () => {
    const tar = await layerTar('a', '1');
    const record = await layers.unpack({ blob: (await content.write(tar)).digest });
    expect(await layers.delete(record.chainId)).toBe(true);
    expect(existsSync(layers.layerDirectory(record.chainId))).toBe(false);
    expect(existsSync(layers.shortDiffPath(record.chainId))).toBe(false);
    expect(await layers.list()).toEqual([]);
  });

  it('gives back the exact tar its diff id is the digest of', async () => {
    const tar = await layerTar('a', '1');
    const record = await layers.unpack({ blob: (await content.write(gzipSync(tar))).digest });
    const { stream } = await layers.openDiffTar(record.chainId);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.from(chunk));
    expect(sha256Digest(Buffer.concat(chunks))).toBe(record.diffId);
  });

  describe('staging (pulls unpack while they download)', () => {
    it('stages layers in any order and commits them bottom first under their chain ids', async () => {
      const base = await layerTar('a', '1');
      const top = await layerTar('b', '2');
      const stagedTop = await layers.stage(Readable.from([top]), { diffId: sha256Digest(top) });
      const stagedBase = await layers.stage(Readable.from([base]), { diffId: sha256Digest(base) });
      expect(await layers.list()).toEqual([]);
      const baseBlob = await content.write(base);
      const topBlob = await content.write(top);
      const first = await layers.commit(stagedBase, {
        blob: { digest: baseBlob.digest, size: base.length, compression: 'none' },
      });
      const second = await layers.commit(stagedTop, {
        parent: first.chainId,
        blob: { digest: topBlob.digest, size: top.length, compression: 'none' },
      });
      expect(second.chainId).toBe(chainIds([sha256Digest(base), sha256Digest(top)])[1]);
      expect(readFileSync(join(layers.diffDirectory(second.chainId), 'b'), 'utf8')).toBe('2');
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    });

    it('refuses a stream whose diff id is not the expected one and leaves nothing', async () => {
      const tar = await layerTar('a', '1');
      await expect(
        layers.stage(Readable.from([tar]), { diffId: sha256Digest('other'), what: 'layer 1 of app' }),
      ).rejects.toThrow('diff id mismatch for layer 1 of app');
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    });

    it('will not commit a layer whose parent or blob is missing', async () => {
      const tar = await layerTar('a', '1');
      const staged = await layers.stage(Readable.from([tar]), {});
      await expect(
        layers.commit(staged, {
          parent: sha256Digest('nope'),
          blob: { digest: sha256Digest(tar), size: tar.length, compression: 'none' },
        }),
      ).rejects.toThrow('its parent layer');
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
      const again = await layers.stage(Readable.from([tar]), {});
      await expect(
        layers.commit(again, { blob: { digest: sha256Digest(tar), size: tar.length, compression: 'none' } }),
      ).rejects.toThrow('its blob');
    });
  });
});
