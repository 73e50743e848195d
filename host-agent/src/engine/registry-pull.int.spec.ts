import { randomBytes } from 'node:crypto';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar, packEntries } from '../../../test/support/busybox-image.js';
import {
  hostArchitecture,
  makeImage,
  makeIndex,
  removeLayout,
  skopeoPush,
  writeLayout,
  type LayerCompression,
  type TestImage,
} from '../../../test/support/oci-test-images.js';
import { FaultProxy } from '../../../test/support/fault-proxy.js';
import { storeSnapshot } from '../../../test/support/registry-checks.js';
import { TestEngine } from '../../../test/support/test-engine.js';
import { TestRegistry } from '../../../test/support/test-registry.js';

const file = (name: string, body: string) => ({ header: { name, type: 'file' as const, mode: 0o644 }, body });

/** A runnable image: busybox plus one layer with /marker holding `marker`. */
async function markedImage(
  marker: string,
  compression: LayerCompression,
  options: { architecture?: string; variant?: string } = {},
): Promise<TestImage> {
  return makeImage({
    layers: [
      { tar: await busyboxRootfsTar(), compression },
      { tar: await packEntries([file('marker', marker)]), compression },
    ],
    ...options,
  });
}

/** Pulls through our engine's socket with the real docker CLI, images put in the registry by skopeo. */
describe('docker pull from a registry', () => {
  let registry: TestRegistry;
  let engine: TestEngine;
  const layouts: string[] = [];

  const putWithSkopeo = async (image: TestImage, repository: string): Promise<void> => {
    const layout = await writeLayout(image.blobs, image.manifest, 'v');
    layouts.push(layout);
    await skopeoPush(layout, 'v', `${registry.host}/${repository}`);
  };

  beforeAll(async () => {
    registry = await TestRegistry.start();
    engine = await TestEngine.start();
  });
  afterAll(async () => {
    await engine?.close();
    await registry?.close();
    for (const layout of layouts) await removeLayout(layout);
  });

  it('pulls an OCI image with gzip layers, runs it and shows its names', async () => {
    const image = await markedImage('gzip image', 'gzip');
    await putWithSkopeo(image, 'skopeo/busybox:1');
    const name = `${registry.host}/skopeo/busybox:1`;
    const output = await engine.docker('pull', name);
    expect(output).toContain('1: Pulling from skopeo/busybox\n');
    expect(output).toContain(`${image.layers[0].digest.slice(7, 19)}: Pull complete`);
    expect(output).toContain(`Digest: ${image.manifest.digest}`);
    expect(output).toContain(`Status: Downloaded newer image for ${name}`);
    expect(await engine.docker('run', '--rm', name, 'cat', '/marker')).toBe('gzip image');
    const [inspected] = JSON.parse(await engine.docker('image', 'inspect', name)) as {
      Id: string;
      RepoTags: string[];
      RepoDigests: string[];
      Architecture: string;
    }[];
    expect(inspected.Id).toBe(image.config.digest);
    expect(inspected.RepoTags).toEqual([name]);
    expect(inspected.RepoDigests).toEqual([`${registry.host}/skopeo/busybox@${image.manifest.digest}`]);
    expect(await engine.docker('pull', name)).toContain(`Status: Image is up to date for ${name}`);
    expect((await storeSnapshot(engine.root)).temporary).toEqual([]);
  });

  it('pulls zstd and uncompressed layers', async () => {
    for (const compression of ['zstd', 'none'] as const) {
      const image = await markedImage(`${compression} image`, compression);
      await putWithSkopeo(image, `compressed/${compression}:1`);
      await engine.docker('pull', `${registry.host}/compressed/${compression}:1`);
      expect(await engine.docker('run', '--rm', `${registry.host}/compressed/${compression}:1`, 'cat', '/marker')).toBe(
        `${compression} image`,
      );
    }
  });

  it('takes the host platform from a manifest list, skipping attestations, and another with --platform', async () => {
    const host = await markedImage(`built for ${hostArchitecture()}`, 'gzip');
    const other = await markedImage('built for arm64', 'gzip', { architecture: 'arm64', variant: 'v8' });
    const attestation = makeImage({
      layers: [{ tar: await packEntries([file('sbom.json', '{}')]), compression: 'none' }],
      architecture: 'unknown',
    });
    const index = makeIndex([
      {
        ...attestation.manifest,
        platform: { os: 'unknown', architecture: 'unknown' },
        annotations: {
          'vnd.docker.reference.type': 'attestation-manifest',
          'vnd.docker.reference.digest': host.manifest.digest,
        },
      },
      other.manifest,
      host.manifest,
    ]);
    const layout = await writeLayout(
      [...host.blobs, ...other.blobs, ...attestation.blobs, index],
      index.descriptor,
      'multi',
    );
    layouts.push(layout);
    await skopeoPush(layout, 'multi', `${registry.host}/multi/busybox:1`);
    const name = `${registry.host}/multi/busybox:1`;
    const output = await engine.docker('pull', name);
    const indexDigest = await registry.manifestDigest('multi/busybox', '1');
    expect(output).toContain(`Digest: ${indexDigest}`);
    expect(await engine.docker('run', '--rm', name, 'cat', '/marker')).toBe(`built for ${hostArchitecture()}`);
    const [inspected] = JSON.parse(await engine.docker('image', 'inspect', name)) as {
      Id: string;
      RepoDigests: string[];
    }[];
    expect(inspected.Id).toBe(host.config.digest);
    expect(inspected.RepoDigests).toEqual([`${registry.host}/multi/busybox@${indexDigest}`]);

    await engine.docker('pull', '--platform', 'linux/arm64', `${registry.host}/multi/busybox:1`);
    const [arm] = JSON.parse(await engine.docker('image', 'inspect', name)) as { Id: string; Architecture: string }[];
    expect(arm.Id).toBe(other.config.digest);
    expect(arm.Architecture).toBe('arm64');
  });

  it('pulls a missing image for docker run', async () => {
    const image = await markedImage('pulled by run', 'gzip');
    await putWithSkopeo(image, 'byrun/busybox:1');
    const result = await engine.dockerAll('run', '--rm', `${registry.host}/byrun/busybox:1`, 'cat', '/marker');
    expect(result.stderr).toContain(`Unable to find image '${registry.host}/byrun/busybox:1' locally`);
    expect(result.stdout.trim()).toBe('pulled by run');
  });

  it('pulls every tag of a repository with --all-tags', async () => {
    for (const tag of ['a', 'b'])
      await putWithSkopeo(await markedImage(`tag ${tag}`, 'gzip'), `alltags/busybox:${tag}`);
    const output = await engine.docker('pull', '--all-tags', `${registry.host}/alltags/busybox`);
    expect(output).toContain('a: Pulling from alltags/busybox');
    expect(output).toContain('b: Pulling from alltags/busybox');
    expect(await engine.docker('run', '--rm', `${registry.host}/alltags/busybox:b`, 'cat', '/marker')).toBe('tag b');
  });

  it('pulls by digest', async () => {
    const image = await markedImage('by digest', 'gzip');
    await putWithSkopeo(image, 'bydigest/busybox:1');
    const name = `${registry.host}/bydigest/busybox@${image.manifest.digest}`;
    await engine.docker('pull', name);
    expect(await engine.docker('run', '--rm', name, 'cat', '/marker')).toBe('by digest');
  });

  it('says manifest unknown for a tag the registry does not have, and records nothing', async () => {
    const before = await storeSnapshot(engine.root);
    const result = await engine.dockerAll('pull', `${registry.host}/skopeo/busybox:nope`);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`manifest for ${registry.host}/skopeo/busybox:nope not found: manifest unknown`);
    expect(await storeSnapshot(engine.root)).toEqual(before);
  });

  it('cleans up when the client goes away in the middle of a pull, and the next pull works', async () => {
    const image = makeImage({
      layers: [
        { tar: await busyboxRootfsTar(), compression: 'gzip' },
        {
          tar: await packEntries([{ header: { name: 'big', type: 'file', mode: 0o644 }, body: randomBytes(24 << 20) }]),
          compression: 'gzip',
        },
      ],
    });
    await putWithSkopeo(image, 'interrupted/busybox:1');
    const slow = await FaultProxy.start(registry.host, { bytesPerSecond: 4 << 20 });
    try {
      const before = await storeSnapshot(engine.root);
      const query = new URLSearchParams({ fromImage: `${slow.host}/interrupted/busybox`, tag: '1' });
      await new Promise<void>((resolve, reject) => {
        const outgoing = request(
          {
            socketPath: engine.engine.socketPath,
            method: 'POST',
            path: `/v1.41/images/create?${query.toString()}`,
            headers: { 'X-Registry-Auth': 'e30=' },
          },
          (response) => {
            response.on('data', (chunk: Buffer) => {
              if (chunk.toString().includes('"Downloading"')) {
                outgoing.destroy();
                resolve();
              }
            });
            response.on('end', () => reject(new Error('the pull ended before it was interrupted')));
          },
        );
        outgoing.on('error', () => undefined);
        outgoing.end();
      });
      // The engine notices the client left, stops and cleans up.
      const deadline = Date.now() + 20_000;
      while (JSON.stringify(await storeSnapshot(engine.root)) !== JSON.stringify(before) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await storeSnapshot(engine.root)).toEqual(before);
    } finally {
      await slow.close();
    }
    await engine.docker('pull', `${registry.host}/interrupted/busybox:1`);
    expect(await engine.docker('run', '--rm', `${registry.host}/interrupted/busybox:1`, 'wc', '-c', '/big')).toBe(
      `${24 << 20} /big`,
    );
  });

  it('resumes a download whose connection breaks, with a Range request', async () => {
    const image = makeImage({
      layers: [
        { tar: await busyboxRootfsTar(), compression: 'gzip' },
        {
          tar: await packEntries([{ header: { name: 'data', type: 'file', mode: 0o644 }, body: randomBytes(6 << 20) }]),
          compression: 'none',
        },
      ],
    });
    await putWithSkopeo(image, 'resumed/busybox:1');
    const flaky = await FaultProxy.start(registry.host, { cut: { afterBytes: 3 << 20, times: 2 } });
    try {
      const output = await engine.docker('pull', `${flaky.host}/resumed/busybox:1`);
      expect(output).toContain('Status: Downloaded newer image');
      expect(flaky.requests.some((head) => /\r\nRange: bytes=[1-9]\d*-/i.test(head))).toBe(true);
    } finally {
      await flaky.close();
    }
    expect(await engine.docker('run', '--rm', `${flaky.host}/resumed/busybox:1`, 'wc', '-c', '/data')).toBe(
      `${6 << 20} /data`,
    );
    expect((await storeSnapshot(engine.root)).temporary).toEqual([]);
  });
});

describe('docker pull with registry settings and user namespaces', () => {
  let registry: TestRegistry;
  let layout: string;

  beforeAll(async () => {
    registry = await TestRegistry.start();
    const image = await markedImage('from the mirror', 'gzip');
    layout = await writeLayout(image.blobs, image.manifest, 'v');
    await skopeoPush(layout, 'v', `${registry.host}/library/busybox:mirrored`);
  });
  afterAll(async () => {
    await registry?.close();
    await removeLayout(layout);
  });

  it('pulls Docker Hub names from a configured mirror (registries.json, read on each pull)', async () => {
    const engine = await TestEngine.start();
    try {
      await writeFile(
        join(engine.root, 'registries.json'),
        JSON.stringify({ 'registry-mirrors': [`http://${registry.host}`] }),
      );
      const output = await engine.docker('pull', 'busybox:mirrored');
      expect(output).toContain('mirrored: Pulling from library/busybox');
      expect(await engine.docker('run', '--rm', 'busybox:mirrored', 'cat', '/marker')).toBe('from the mirror');
      const [inspected] = JSON.parse(await engine.docker('image', 'inspect', 'busybox:mirrored')) as {
        RepoTags: string[];
        RepoDigests: string[];
      }[];
      expect(inspected.RepoTags).toEqual(['busybox:mirrored']);
      expect(inspected.RepoDigests[0]).toMatch(/^busybox@sha256:[a-f0-9]{64}$/);

      await writeFile(join(engine.root, 'registries.json'), JSON.stringify({ 'registry-mirrors': 'not a list' }));
      const broken = await engine.dockerAll('pull', 'busybox:mirrored');
      expect(broken.stderr).toContain('registry-mirrors must be a list of strings');
    } finally {
      await engine.close();
    }
  });

  it('unpacks pulled layers with shifted owners under --userns-remap', async () => {
    const engine = await TestEngine.start({ usernsRemap: 'default' });
    try {
      const name = `${registry.host}/library/busybox:mirrored`;
      await engine.docker('pull', name);
      expect(await engine.docker('run', '--rm', name, 'stat', '-c', '%u:%g %n', '/marker', '/bin/busybox')).toBe(
        '0:0 /marker\n0:0 /bin/busybox',
      );
      // On the host, the layer's files belong to the remapped root, not to root.
      const [store] = (await readdir(engine.root)).filter((name) => /^\d+\.\d+$/.test(name));
      const owners: number[] = [];
      for (const layer of await readdir(join(engine.root, store, 'layers'))) {
        const marker = join(engine.root, store, 'layers', layer, 'diff', 'marker');
        owners.push(
          ...(await stat(marker).then(
            (info) => [info.uid],
            () => [],
          )),
        );
      }
      expect(owners).toHaveLength(1);
      expect(owners[0]).toBe(Number(store.split('.')[0]));
      expect(owners[0]).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  });
});
