import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar, packEntries } from '../../../test/support/busybox-image.js';
import {
  makeImage,
  removeLayout,
  skopeoPush,
  writeLayout,
  type TestImage,
} from '../../../test/support/oci-test-images.js';
import { TestEngine } from '../../../test/support/test-engine.js';
import { TestRegistry } from '../../../test/support/test-registry.js';

const file = (name: string, body: string) => ({ header: { name, type: 'file' as const, mode: 0o644 }, body });

/**
 * A pulled image pushed again keeps its manifest digest, even when one of its layers was here
 * before the pull (loaded with docker load, stored uncompressed) and its compressed blob never
 * came: the registry is asked to mount that blob from the repository the image came from.
 */
describe('docker push of a pulled image', () => {
  let registry: TestRegistry;
  let elsewhere: TestRegistry;
  let engine: TestEngine;
  let image: TestImage;
  let layout: string;

  beforeAll(async () => {
    registry = await TestRegistry.start();
    elsewhere = await TestRegistry.start();
    // busybox:latest is loaded: its layer is here, as an uncompressed tar.
    engine = await TestEngine.start({ busybox: true });
    // zstd, so that a gzip made here cannot happen to be the same blob.
    image = makeImage({
      layers: [
        { tar: await busyboxRootfsTar(), compression: 'zstd' },
        { tar: await packEntries([file('marker', 'pushed again')]), compression: 'gzip' },
      ],
    });
    layout = await writeLayout(image.blobs, image.manifest, 'v');
    await skopeoPush(layout, 'v', `${registry.host}/source/app:1`);
  });
  afterAll(async () => {
    await engine?.close();
    await registry?.close();
    await elsewhere?.close();
    await removeLayout(layout);
  });

  it('keeps the manifest digest in another repository of the same registry', async () => {
    const pulled = await engine.docker('pull', `${registry.host}/source/app:1`);
    expect(pulled).toContain(`${image.layers[0].digest.slice(7, 19)}: Already exists`);
    await engine.docker('tag', `${registry.host}/source/app:1`, `${registry.host}/copy/app:1`);
    const pushed = await engine.docker('push', `${registry.host}/copy/app:1`);
    expect(pushed).toContain(`Mounted from ${registry.host}/source/app`);
    expect(pushed).toContain(`1: digest: ${image.manifest.digest}`);
    expect(await registry.manifestDigest('copy/app', '1')).toBe(await registry.manifestDigest('source/app', '1'));
    // And the registry serves the original compressed blob under the new repository.
    expect(await registry.status(`/v2/copy/app/blobs/${image.layers[0].digest}`)).toBe(200);
  });

  it('makes a new manifest, with the layer gzipped here, for a registry that never had the blob', async () => {
    const name = `${elsewhere.host}/copy/app:1`;
    await engine.docker('tag', `${registry.host}/source/app:1`, name);
    const pushed = await engine.docker('push', name);
    const digest = await elsewhere.manifestDigest('copy/app', '1');
    expect(pushed).toContain(`1: digest: ${digest}`);
    expect(digest).not.toBe(image.manifest.digest);
    // The marker layer still goes up as it was pulled; only the busybox layer is new.
    expect(await elsewhere.status(`/v2/copy/app/blobs/${image.layers[1].digest}`)).toBe(200);
    expect(await elsewhere.status(`/v2/copy/app/blobs/${image.layers[0].digest}`)).toBe(404);
    await engine.docker('rmi', name, `${registry.host}/source/app:1`, `${registry.host}/copy/app:1`);
    await engine.docker('pull', name);
    expect(await engine.docker('run', '--rm', name, 'cat', '/marker')).toBe('pushed again');
  });
});
