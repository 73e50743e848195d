import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packEntries } from '../../../test/support/busybox-image.js';
import { storeSnapshot } from '../../../test/support/registry-checks.js';
import { TestEngine } from '../../../test/support/test-engine.js';
import { TestRegistry } from '../../../test/support/test-registry.js';
import { UPLOAD_CHUNK_BYTES } from '../registry/image-pusher.js';

const run = promisify(execFile);
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Inspected {
  Id: string;
  RepoDigests: string[];
  RootFS: { Layers: string[] };
}

/** Pushes from our engine with the real docker CLI; skopeo, an independent client, reads the result. */
describe('docker push to a registry', () => {
  let registry: TestRegistry;
  let engine: TestEngine;
  let scratch: string;

  beforeAll(async () => {
    registry = await TestRegistry.start();
    engine = await TestEngine.start({ busybox: true });
    scratch = await mkdtemp(join(tmpdir(), 'skiff-push-'));
  });
  afterAll(async () => {
    await engine?.close();
    await registry?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('pushes a loaded image (gzipping its layer) that skopeo then copies out whole', async () => {
    const name = `${registry.host}/pushed/busybox:v1`;
    await engine.docker('tag', 'busybox:latest', name);
    const output = await engine.docker('push', name);
    const [image] = JSON.parse(await engine.docker('image', 'inspect', name)) as Inspected[];
    const diffId = image.RootFS.Layers[0];
    expect(output).toContain(`The push refers to repository [${registry.host}/pushed/busybox]`);
    expect(output).toContain(`${diffId.slice(7, 19)}: Pushed`);
    const digest = /v1: digest: (sha256:[a-f0-9]{64}) size: (\d+)/.exec(output)?.[1];
    expect(digest).toBe(await registry.manifestDigest('pushed/busybox', 'v1'));
    const [after] = JSON.parse(await engine.docker('image', 'inspect', name)) as Inspected[];
    expect(after.RepoDigests).toContain(`${registry.host}/pushed/busybox@${digest}`);

    const layout = join(scratch, 'copied');
    await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${name}`, `oci:${layout}:v1`], {
      timeout: 60_000,
    });
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(
      await readFile(join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'),
    ) as { config: { digest: string }; layers: { digest: string; mediaType: string }[] };
    // skopeo turns the Docker manifest into an OCI one for the layout (and so rewrites the config):
    // what must survive is the content.
    const config = JSON.parse(
      await readFile(join(layout, 'blobs/sha256', manifest.config.digest.slice(7)), 'utf8'),
    ) as {
      rootfs: { diff_ids: string[] };
    };
    expect(config.rootfs.diff_ids).toEqual([diffId]);
    const layer = await readFile(join(layout, 'blobs/sha256', manifest.layers[0].digest.slice(7)));
    expect(manifest.layers[0].mediaType).toMatch(/tar\+gzip|tar\.gzip/);
    expect(sha256(gunzipSync(layer))).toBe(diffId);
  });

  it('says a layer already exists, and mounts it from another repository of the registry', async () => {
    const again = await engine.docker('push', `${registry.host}/pushed/busybox:v1`);
    expect(again).toContain('Layer already exists');
    await engine.docker('tag', 'busybox:latest', `${registry.host}/other/busybox:v2`);
    const mounted = await engine.docker('push', `${registry.host}/other/busybox:v2`);
    expect(mounted).toContain(`Mounted from ${registry.host}/pushed/busybox`);
    expect(mounted).toMatch(/v2: digest: sha256:[a-f0-9]{64} size: \d+/);
  });

  it('pulls back what it pushed, with the same digest, after the image was removed', async () => {
    const name = `${registry.host}/pushed/busybox:v1`;
    const pushedDigest = await registry.manifestDigest('pushed/busybox', 'v1');
    await engine.docker('rmi', name, `${registry.host}/other/busybox:v2`);
    const output = await engine.docker('pull', name);
    expect(output).toContain(`Digest: ${pushedDigest}`);
    expect(await engine.docker('run', '--rm', name, 'echo', 'round trip')).toBe('round trip');
    // A pulled image goes back up with its own manifest: the digest does not change.
    await engine.docker('tag', name, `${registry.host}/third/busybox:v3`);
    const pushed = await engine.docker('push', `${registry.host}/third/busybox:v3`);
    expect(pushed).toContain(`v3: digest: ${pushedDigest}`);
    expect((await storeSnapshot(engine.root)).temporary).toEqual([]);
  });

  it('uploads a layer larger than one chunk in several PATCHes', async () => {
    const rootfs = await packEntries([
      { header: { name: 'big', type: 'file', mode: 0o644 }, body: randomBytes(UPLOAD_CHUNK_BYTES + (3 << 20)) },
    ]);
    const tarPath = join(scratch, 'big.tar');
    await writeFile(tarPath, rootfs);
    const name = `${registry.host}/chunked/big:1`;
    await engine.docker('import', tarPath, name);
    const output = await engine.docker('push', name);
    expect(output).toMatch(/1: digest: sha256:[a-f0-9]{64}/);
    const layout = join(scratch, 'chunked');
    await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${name}`, `dir:${layout}`], {
      timeout: 60_000,
    });
    const manifest = JSON.parse(await readFile(join(layout, 'manifest.json'), 'utf8')) as {
      layers: { digest: string; size: number }[];
    };
    expect(manifest.layers[0].size).toBeGreaterThan(UPLOAD_CHUNK_BYTES);
    expect(sha256(gunzipSync(await readFile(join(layout, manifest.layers[0].digest.slice(7)))))).toBe(sha256(rootfs));
  });

  it('answers 404 for a tag that does not exist locally', async () => {
    const result = await engine.dockerAll('push', `${registry.host}/pushed/busybox:missing`);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`tag does not exist: ${registry.host}/pushed/busybox:missing`);
  });
});
