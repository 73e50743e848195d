import { readFile, truncate, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar, packEntries } from '../../../test/support/busybox-image.js';
import {
  makeImage,
  makeIndex,
  MEDIA,
  pushRaw,
  removeLayout,
  sha256,
  skopeoPush,
  writeLayout,
  type TestImage,
} from '../../../test/support/oci-test-images.js';
import { storeSnapshot, type StoreSnapshot } from '../../../test/support/registry-checks.js';
import { freePort } from '../../../test/support/processes.js';
import { TestEngine } from '../../../test/support/test-engine.js';
import { TestRegistry } from '../../../test/support/test-registry.js';

const file = (name: string, body: string | Buffer) => ({ header: { name, type: 'file' as const, mode: 0o644 }, body });

/** A gzipped tar with one file of `bytes` zeros, made as a stream (the tar is never in memory). */
async function gzipBomb(bytes: number): Promise<Buffer> {
  // An empty file's header, given the size by hand (octal at 124, checksum at 148).
  const head = Buffer.from((await packEntries([file('zeros', '')])).subarray(0, 512));
  head.write(`${bytes.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  head.fill(' ', 148, 156);
  const checksum = head.reduce((sum, byte) => sum + byte, 0);
  head.write(`${checksum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  function* tar(): Generator<Buffer> {
    yield head;
    const zeros = Buffer.alloc(1 << 20);
    for (let left = bytes; left > 0; left -= zeros.length) yield left >= zeros.length ? zeros : zeros.subarray(0, left);
    yield Buffer.alloc(1024);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.from(tar()).pipe(createGzip({ level: 9 }))) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A registry that serves broken things: each pull fails with an error naming the problem, and
 * the engine's store is exactly as before (no image, no layer, no blob, nothing in tmp/).
 */
describe('pulling bad input from a registry', () => {
  let registry: TestRegistry;
  let engine: TestEngine;
  const layouts: string[] = [];
  let base: Buffer;

  const put = async (image: TestImage, repository: string): Promise<void> => {
    const layout = await writeLayout(image.blobs, image.manifest, 'v');
    layouts.push(layout);
    await skopeoPush(layout, 'v', `${registry.host}/${repository}`);
  };

  const expectRefused = async (name: string, message: string | RegExp): Promise<void> => {
    const before: StoreSnapshot = await storeSnapshot(engine.root);
    const result = await engine.dockerAll('pull', `${registry.host}/${name}`);
    expect(result.code).not.toBe(0);
    if (typeof message === 'string') expect(result.stderr).toContain(message);
    else expect(result.stderr).toMatch(message);
    expect(await storeSnapshot(engine.root)).toEqual(before);
    expect((await engine.dockerAll('image', 'inspect', `${registry.host}/${name}`)).code).not.toBe(0);
  };

  beforeAll(async () => {
    registry = await TestRegistry.start();
    engine = await TestEngine.start();
    base = await busyboxRootfsTar();
    // One good image first, so that "nothing changed" is checked on a store that has something.
    const good = makeImage({ layers: [{ tar: base, compression: 'gzip' }] });
    await put(good, 'good/busybox:1');
    await engine.docker('pull', `${registry.host}/good/busybox:1`);
  });
  afterAll(async () => {
    await engine?.close();
    await registry?.close();
    for (const layout of layouts) await removeLayout(layout);
  });

  it('refuses a blob whose content does not match its digest', async () => {
    const image = makeImage({
      layers: [
        { tar: base, compression: 'gzip' },
        { tar: await packEntries([file('data', 'x'.repeat(100_000))]), compression: 'gzip' },
      ],
    });
    await put(image, 'tampered/busybox:1');
    const path = registry.blobPath(image.layers[1].digest);
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(path, bytes);
    await expectRefused('tampered/busybox:1', `digest mismatch for layer 2 of ${registry.host}/tampered/busybox:1`);
  });

  it('refuses a truncated blob', async () => {
    const image = makeImage({
      layers: [
        { tar: base, compression: 'gzip' },
        { tar: await packEntries([file('data', 'y'.repeat(100_000))]), compression: 'gzip' },
      ],
    });
    await put(image, 'truncated/busybox:1');
    await truncate(registry.blobPath(image.layers[1].digest), 100);
    await expectRefused('truncated/busybox:1', /size mismatch for layer 2 of .*truncated/);
  });

  it('refuses a manifest list entry of an unknown media type', async () => {
    const image = makeImage({ layers: [{ tar: base, compression: 'gzip' }], defaults: { Cmd: ['true'] } });
    await put(image, 'odd/busybox:real');
    const index = makeIndex([{ ...image.manifest, mediaType: 'application/vnd.example.unknown+json' }]);
    await pushRaw(registry.host, 'odd/busybox', [], { bytes: index.bytes, mediaType: MEDIA.index, reference: 'list' });
    await expectRefused('odd/busybox:list', 'of an unsupported media type application/vnd.example.unknown+json');
  });

  it('refuses an artifact whose config is not an image config', async () => {
    const config = Buffer.from('{"chart":"demo"}');
    const layer = Buffer.from('not a tar');
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: {
          mediaType: 'application/vnd.example.chart.config.v1+json',
          digest: sha256(config),
          size: config.length,
        },
        layers: [
          { mediaType: 'application/vnd.example.chart.content.v1.tar', digest: sha256(layer), size: layer.length },
        ],
      }),
    );
    await pushRaw(
      registry.host,
      'artifact/chart',
      [
        { digest: sha256(config), bytes: config },
        { digest: sha256(layer), bytes: layer },
      ],
      { bytes: manifest, mediaType: MEDIA.manifest, reference: '1' },
    );
    await expectRefused(
      'artifact/chart:1',
      'is not a container image: its config has the unsupported media type application/vnd.example.chart.config.v1+json',
    );
  });

  it('refuses a layer with a path that escapes the layer', async () => {
    const escape = await packEntries([file('../../escaped-by-layer', 'gotcha')]);
    const image = makeImage({
      layers: [
        { tar: base, compression: 'gzip' },
        { tar: escape, compression: 'gzip' },
      ],
    });
    await put(image, 'escape/busybox:1');
    await expectRefused('escape/busybox:1', /cannot unpack layer 2 of .*escape/);
  });

  it('refuses a decompression bomb before it fills the disk', async () => {
    const bomb = await gzipBomb(600 << 20);
    const image = makeImage({
      layers: [
        { tar: base, compression: 'gzip' },
        { tar: Buffer.alloc(0), compression: 'none' },
      ],
    });
    // The bomb replaces the second layer; the diff id does not matter, the guard trips first.
    const layer = { ...image.layers[1], digest: sha256(bomb), bytes: bomb, mediaType: MEDIA.layer.gzip };
    const rebuilt = makeImage({
      layers: [{ tar: base, compression: 'gzip' }],
      diffIds: [image.layers[0].diffId, sha256('not checked')],
    });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: { mediaType: MEDIA.config, digest: rebuilt.config.digest, size: rebuilt.config.bytes.length },
        layers: [
          { mediaType: MEDIA.layer.gzip, digest: rebuilt.layers[0].digest, size: rebuilt.layers[0].bytes.length },
          { mediaType: layer.mediaType, digest: layer.digest, size: bomb.length },
        ],
      }),
    );
    await pushRaw(registry.host, 'bomb/busybox', [rebuilt.config, rebuilt.layers[0], layer], {
      bytes: manifest,
      mediaType: MEDIA.manifest,
      reference: '1',
    });
    await expectRefused(
      'bomb/busybox:1',
      /layer 2 of .* expands to more than \d+ bytes: refused as a decompression bomb/,
    );
  });

  it('names a registry it cannot reach', async () => {
    const unused = await freePort();
    const before = await storeSnapshot(engine.root);
    const result = await engine.dockerAll('pull', `127.0.0.1:${unused}/nothing/here:1`);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`http://127.0.0.1:${unused}/v2/: connect ECONNREFUSED`);
    expect(await storeSnapshot(engine.root)).toEqual(before);
  });
});
