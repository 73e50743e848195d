import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Digest } from '../snapshots/digest.js';
import { tarBuffer, type TarEntry } from '../snapshots/tar-packer.js';
import { FakeSysCalls } from '../sys/fake-sys-calls.js';
import { hostPlatform } from './image-config.js';
import { ImageService, type ImageUse } from './image-service.js';

const sha = (data: Buffer | string): Digest => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const hex = (digest: string): string => digest.slice(7);
const file = (name: string, body: Buffer | string): TarEntry => ({ header: { name, type: 'file', mode: 0o644 }, body });

async function* chunked(buffer: Buffer): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += 4096)
    yield await Promise.resolve(buffer.subarray(offset, offset + 4096));
}

async function untar(stream: AsyncIterable<unknown>): Promise<Map<string, Buffer>> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const extract = tar.extract();
  const files = new Map<string, Buffer>();
  const reading = (async () => {
    for await (const entry of extract) {
      const parts: Buffer[] = [];
      for await (const part of entry) parts.push(part as Buffer);
      if (entry.header.type === 'file') files.set(entry.header.name, Buffer.concat(parts));
    }
  })();
  extract.end(Buffer.concat(chunks));
  await reading;
  return files;
}

interface TestImage {
  id: Digest;
  config: Buffer;
  layers: Buffer[];
  diffIds: Digest[];
}

async function testImage(
  layerEntries: TarEntry[][],
  options: { created?: string; labels?: Record<string, string>; cmd?: string[]; history?: object[] } = {},
): Promise<TestImage> {
  const layers = await Promise.all(layerEntries.map((entries) => tarBuffer(entries)));
  const diffIds = layers.map(sha);
  const config = Buffer.from(
    JSON.stringify({
      architecture: hostPlatform().architecture,
      os: 'linux',
      created: options.created ?? '2024-01-01T00:00:00Z',
      config: { Env: ['PATH=/bin'], Cmd: options.cmd ?? ['sh'], ...(options.labels ? { Labels: options.labels } : {}) },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history:
        options.history ??
        layers.map((_, index) => ({ created: '2024-01-01T00:00:00Z', created_by: `step ${index + 1}` })),
    }),
  );
  return { id: sha(config), config, layers, diffIds };
}

/** A docker-save archive in the layout of Docker 25: everything under blobs/sha256. */
function dockerSave(images: { image: TestImage; tags: string[] | null }[]): Promise<Buffer> {
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  const add = (name: string, body: Buffer) => {
    if (!seen.has(name)) entries.push(file(name, body));
    seen.add(name);
  };
  for (const { image } of images) {
    image.layers.forEach((layer, index) => add(`blobs/sha256/${hex(image.diffIds[index])}`, layer));
    add(`blobs/sha256/${hex(image.id)}`, image.config);
  }
  entries.push(
    file(
      'manifest.json',
      JSON.stringify(
        images.map(({ image, tags }) => ({
          Config: `blobs/sha256/${hex(image.id)}`,
          RepoTags: tags,
          Layers: image.diffIds.map((diffId) => `blobs/sha256/${hex(diffId)}`),
        })),
      ),
    ),
  );
  return tarBuffer(entries);
}

function ociManifest(image: TestImage, gzip: boolean): { manifest: Buffer; blobs: [Digest, Buffer][] } {
  const layerBlobs = image.layers.map((layer) => (gzip ? gzipSync(layer) : layer));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: image.id, size: image.config.length },
      layers: layerBlobs.map((blob) => ({
        mediaType: `application/vnd.oci.image.layer.v1.tar${gzip ? '+gzip' : ''}`,
        digest: sha(blob),
        size: blob.length,
      })),
    }),
  );
  return {
    manifest,
    blobs: [[sha(image.config), image.config], ...layerBlobs.map((blob): [Digest, Buffer] => [sha(blob), blob])],
  };
}

function ociLayout(index: object, blobs: [Digest, Buffer][]): Promise<Buffer> {
  return tarBuffer([
    file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'),
    ...blobs.map(([digest, body]) => file(`blobs/sha256/${hex(digest)}`, body)),
    file('index.json', JSON.stringify(index)),
  ]);
}

describe(ImageService.name, () => {
  let root: string;
  let sys: FakeSysCalls;
  let inUse: Map<Digest, ImageUse>;
  let images: ImageService;
  let busybox: TestImage;

  const open = (at = root) =>
    ImageService.open({
      root: at,
      sys,
      isImageInUse: (id) => inUse.get(id),
      now: () => new Date('2024-06-01T00:00:00Z'),
    });
  const load = async (archive: Buffer) => images.load(chunked(archive));
  const blobs = () => readdirSync(join(root, 'content/sha256')).sort();

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'skiff-images-'));
    sys = new FakeSysCalls();
    inUse = new Map();
    images = await open();
    busybox = await testImage([
      [file('bin/busybox', 'BUSYBOX'), { header: { name: 'bin/sh', type: 'symlink', linkname: 'busybox' } }],
      [file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n')],
    ]);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe('load', () => {
    it('loads a docker-save archive and says what it loaded, as dockerd does', async () => {
      const result = await load(await dockerSave([{ image: busybox, tags: ['busybox:latest'] }]));
      expect(result.lines).toEqual(['Loaded image: busybox:latest']);
      expect(result.format).toBe('docker-save');
      const resolved = images.resolve('busybox');
      expect(resolved.id).toBe(busybox.id);
      const [bottom, top] = resolved.chainIds.map((chainId) => images.layers.diffDirectory(chainId));
      expect(readFileSync(join(bottom, 'bin/busybox'), 'utf8')).toBe('BUSYBOX');
      expect(readFileSync(join(top, 'etc/passwd'), 'utf8')).toContain('root');
    });

    it('reports progress lines as they happen', async () => {
      const seen: string[] = [];
      await images.load(chunked(await dockerSave([{ image: busybox, tags: ['busybox:latest', 'busybox:1'] }])), {
        onProgress: (line) => seen.push(line),
      });
      expect(seen).toEqual(['Loaded image: busybox:latest', 'Loaded image: busybox:1']);
    });

    it('loads a gzipped archive', async () => {
      await images.load(chunked(gzipSync(await dockerSave([{ image: busybox, tags: ['busybox:latest'] }]))));
      expect(images.resolve('busybox:latest').id).toBe(busybox.id);
    });

    it('prints the id of an image without a name', async () => {
      const result = await load(await dockerSave([{ image: busybox, tags: null }]));
      expect(result.lines).toEqual([`Loaded image ID: ${busybox.id}`]);
    });

    it('says when a name moves from an older image', async () => {
      await load(await dockerSave([{ image: busybox, tags: ['busybox:latest'] }]));
      const other = await testImage([[file('x', 'y')]]);
      const result = await load(await dockerSave([{ image: other, tags: ['busybox:latest'] }]));
      expect(result.lines).toEqual([
        `The image busybox:latest already exists, renaming the old one with ID ${busybox.id} to empty string`,
        'Loaded image: busybox:latest',
      ]);
      expect((await images.list({ filters: { dangling: ['true'] } })).map((image) => image.Id)).toEqual([busybox.id]);
    });

    it('loads an OCI image layout with gzip layers', async () => {
      const { manifest, blobs: parts } = ociManifest(busybox, true);
      const archive = await ociLayout(
        {
          schemaVersion: 2,
          manifests: [
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: sha(manifest),
              size: manifest.length,
              annotations: {
                'io.containerd.image.name': 'docker.io/library/busybox:oci',
                'org.opencontainers.image.ref.name': 'oci',
              },
            },
          ],
        },
        [[sha(manifest), manifest], ...parts],
      );
      const result = await load(archive);
      expect(result).toMatchObject({ format: 'oci-layout', lines: ['Loaded image: busybox:oci'] });
      expect(images.inspect('busybox:oci').RootFS.Layers).toEqual(busybox.diffIds);
    });

    it('picks the host platform from an OCI index and skips attestations', async () => {
      const other = await testImage([[file('arch', 'other')]]);
      const mine = ociManifest(busybox, false);
      const theirs = ociManifest(other, false);
      const attestation = Buffer.from('{"schemaVersion":2}');
      const host = hostPlatform();
      const innerIndex = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: sha(theirs.manifest),
              size: theirs.manifest.length,
              platform: { os: 'linux', architecture: 'mips64' },
            },
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: sha(attestation),
              size: attestation.length,
              platform: { os: 'unknown', architecture: 'unknown' },
              annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
            },
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: sha(mine.manifest),
              size: mine.manifest.length,
              platform: { os: 'linux', architecture: host.architecture },
            },
          ],
        }),
      );
      const archive = await ociLayout(
        {
          schemaVersion: 2,
          manifests: [
            {
              mediaType: 'application/vnd.oci.image.index.v1+json',
              digest: sha(innerIndex),
              size: innerIndex.length,
              annotations: { 'io.containerd.image.name': 'docker.io/library/multi:1' },
            },
          ],
        },
        [
          [sha(innerIndex), innerIndex],
          [sha(mine.manifest), mine.manifest],
          [sha(theirs.manifest), theirs.manifest],
          [sha(attestation), attestation],
          ...mine.blobs,
          ...theirs.blobs,
        ],
      );
      await load(archive);
      expect(images.resolve('multi:1').id).toBe(busybox.id);
      expect(images.store.get(busybox.id)?.manifests).toEqual([sha(innerIndex), sha(mine.manifest)]);
    });

    it('loads a legacy archive (repositories, <id>/json, <id>/layer.tar)', async () => {
      const layer = await tarBuffer([file('hello', 'legacy')]);
      const base = 'a'.repeat(64);
      const top = 'b'.repeat(64);
      const empty = await tarBuffer([]);
      const archive = await tarBuffer([
        file('repositories', JSON.stringify({ old: { v1: top } })),
        file(
          `${base}/json`,
          JSON.stringify({
            id: base,
            created: '2015-01-01T00:00:00Z',
            container_config: { Cmd: ['/bin/sh', '-c', '#(nop) ADD hello'] },
            architecture: 'amd64',
            os: 'linux',
          }),
        ),
        file(`${base}/layer.tar`, layer),
        file(
          `${top}/json`,
          JSON.stringify({
            id: top,
            parent: base,
            created: '2015-01-02T00:00:00Z',
            container_config: { Cmd: ['/bin/sh', '-c', '#(nop) CMD ["sh"]'] },
            config: { Cmd: ['sh'] },
            architecture: 'amd64',
            os: 'linux',
          }),
        ),
        file(`${top}/layer.tar`, empty),
      ]);
      const result = await load(archive);
      expect(result).toMatchObject({ format: 'legacy-docker-save', lines: ['Loaded image: old:v1'] });
      const inspect = images.inspect('old:v1');
      expect(inspect.RootFS.Layers).toEqual([sha(layer), sha(empty)]);
      expect(inspect.Config.Cmd).toEqual(['sh']);
      expect((await images.history('old:v1')).map((row) => row.CreatedBy)).toEqual([
        '/bin/sh -c #(nop) CMD ["sh"]',
        '/bin/sh -c #(nop) ADD hello',
      ]);
    });

    it('refuses a layer that is not the one the config promises, and keeps nothing', async () => {
      const tampered = { ...busybox, layers: [busybox.layers[0], await tarBuffer([file('etc/passwd', 'evil')])] };
      const archive = await tarBuffer([
        file(`blobs/sha256/${hex(busybox.diffIds[0])}`, tampered.layers[0]),
        file(`layers/second.tar`, tampered.layers[1]),
        file(`blobs/sha256/${hex(busybox.id)}`, busybox.config),
        file(
          'manifest.json',
          JSON.stringify([
            {
              Config: `blobs/sha256/${hex(busybox.id)}`,
              RepoTags: ['busybox:latest'],
              Layers: [`blobs/sha256/${hex(busybox.diffIds[0])}`, 'layers/second.tar'],
            },
          ]),
        ),
      ]);
      await expect(load(archive)).rejects.toThrow(
        `diff id mismatch for layer 2 of image busybox:latest: the image expects ${busybox.diffIds[1]}, the layer is ${sha(tampered.layers[1])}`,
      );
      expect(images.store.list()).toEqual([]);
      expect(blobs()).toEqual([]);
      expect(readdirSync(join(root, 'layers'))).toEqual([]);
      expect(() => images.resolve('busybox')).toThrow('No such image: busybox:latest');
    });

    it('refuses a blob whose content is not the digest it is stored under', async () => {
      const archive = await tarBuffer([
        file(`blobs/sha256/${hex(busybox.diffIds[0])}`, busybox.layers[1]),
        file(`blobs/sha256/${hex(busybox.diffIds[1])}`, busybox.layers[1]),
        file(`blobs/sha256/${hex(busybox.id)}`, busybox.config),
        file(
          'manifest.json',
          JSON.stringify([
            {
              Config: `blobs/sha256/${hex(busybox.id)}`,
              RepoTags: ['busybox:latest'],
              Layers: busybox.diffIds.map((d) => `blobs/sha256/${hex(d)}`),
            },
          ]),
        ),
      ]);
      await expect(load(archive)).rejects.toThrow(
        `digest mismatch for blobs/sha256/${hex(busybox.diffIds[0])} in the archive`,
      );
      expect(blobs()).toEqual([]);
    });

    it('refuses an OCI manifest whose size is not the descriptor’s', async () => {
      const { manifest, blobs: parts } = ociManifest(busybox, false);
      const archive = await ociLayout(
        {
          schemaVersion: 2,
          manifests: [
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: sha(manifest),
              size: manifest.length + 1,
            },
          ],
        },
        [[sha(manifest), manifest], ...parts],
      );
      await expect(load(archive)).rejects.toThrow(/size mismatch for the manifest of image sha256:/);
    });

    it('refuses an OCI layout that misses a blob', async () => {
      const { manifest, blobs: parts } = ociManifest(busybox, false);
      const archive = await ociLayout(
        {
          schemaVersion: 2,
          manifests: [
            { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length },
          ],
        },
        [[sha(manifest), manifest], ...parts.slice(0, 2)],
      );
      await expect(load(archive)).rejects.toThrow(
        `the archive has no blobs/sha256/${hex(sha(busybox.layers[1]))} (layer 2 of image`,
      );
    });

    it('refuses a broken zstd layer with a clear message', async () => {
      const zstd = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4]);
      const image = await testImage([[file('a', 'b')]]);
      const archive = await tarBuffer([
        file('layer.tar.zst', zstd),
        file('config.json', image.config),
        file(
          'manifest.json',
          JSON.stringify([{ Config: 'config.json', RepoTags: ['z:1'], Layers: ['layer.tar.zst'] }]),
        ),
      ]);
      await expect(load(archive)).rejects.toThrow(
        'layer 1 of image z:1 needs a zstd dictionary, which is not supported',
      );
    });

    it('refuses a malicious layer, naming the entry, and writes nothing outside', async () => {
      const outside = join(root, '..', `escape-${hex(busybox.id).slice(0, 8)}`);
      const evil = await testImage([
        [{ header: { name: 'evil', type: 'symlink', linkname: outside } }, file('evil/owned', 'x')],
      ]);
      await expect(load(await dockerSave([{ image: evil, tags: ['evil:1'] }]))).rejects.toThrow(
        `cannot unpack layer 1 of image evil:1: refusing tar entry "evil/owned": "evil" is a symlink to ${outside}, out of the target`,
      );
      expect(existsSync(outside)).toBe(false);
      expect(readdirSync(join(root, 'layers'))).toEqual([]);
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    });

    it('refuses something that is not an image archive', async () => {
      await expect(load(await tarBuffer([file('README', 'hi')]))).rejects.toThrow(
        'the archive is not an image archive: it has no manifest.json, index.json or repositories',
      );
    });

    it('unpacks a layer shared by two images once', async () => {
      const child = await testImage(
        [
          [file('bin/busybox', 'BUSYBOX'), { header: { name: 'bin/sh', type: 'symlink', linkname: 'busybox' } }],
          [file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n')],
          [file('app', '1')],
        ],
        { created: '2024-02-01T00:00:00Z' },
      );
      await load(
        await dockerSave([
          { image: busybox, tags: ['busybox:latest'] },
          { image: child, tags: ['app:1'] },
        ]),
      );
      expect(readdirSync(join(root, 'layers'))).toHaveLength(3);
    });
  });

  describe('resolve', () => {
    beforeEach(async () => {
      await load(await dockerSave([{ image: busybox, tags: ['busybox:latest', '127.0.0.1:5000/busybox:local'] }]));
    });

    it('finds an image by short, long and registry names', () => {
      for (const name of [
        'busybox',
        'busybox:latest',
        'library/busybox',
        'docker.io/library/busybox:latest',
        '127.0.0.1:5000/busybox:local',
      ]) {
        expect(images.resolve(name).id, name).toBe(busybox.id);
      }
    });

    it('finds an image by id, bare hex id and id prefix', () => {
      expect(images.resolve(busybox.id).id).toBe(busybox.id);
      expect(images.resolve(hex(busybox.id)).id).toBe(busybox.id);
      expect(images.resolve(hex(busybox.id).slice(0, 12)).id).toBe(busybox.id);
      expect(images.resolve(`sha256:${hex(busybox.id).slice(0, 8)}`).id).toBe(busybox.id);
    });

    it('reports a missing image the way dockerd does', () => {
      expect(() => images.resolve('alpine')).toThrow(
        expect.objectContaining({ kind: 'not-found', message: 'No such image: alpine:latest' }),
      );
      expect(() => images.resolve('busybox:1.0')).toThrow('No such image: busybox:1.0');
    });

    it('refuses a name that is not a reference, as invalid', () => {
      expect(() => images.resolve('NOT valid')).toThrow(
        expect.objectContaining({ kind: 'invalid-argument', message: 'invalid reference format' }),
      );
    });

    it('gives the layers bottom first', () => {
      expect(images.resolve('busybox').chainIds[0]).toBe(busybox.diffIds[0]);
    });
  });

  describe('inspect and history', () => {
    beforeEach(async () => {
      const image = await testImage([[file('a', '12345')], [file('b', '1234567')]], {
        labels: { team: 'core' },
        history: [
          { created: '2024-01-01T00:00:00Z', created_by: 'ADD a' },
          { created: '2024-01-02T00:00:00Z', created_by: 'ENV X=1', empty_layer: true },
          { created: '2024-01-03T00:00:00Z', created_by: 'ADD b', comment: 'second' },
        ],
      });
      busybox = image;
      await load(await dockerSave([{ image, tags: ['app:1'] }]));
    });

    it('describes the image in the ImageInspect shape', () => {
      const inspect = images.inspect('app:1');
      expect(inspect).toMatchObject({
        Id: busybox.id,
        RepoTags: ['app:1'],
        RepoDigests: [],
        Created: '2024-01-01T00:00:00Z',
        Architecture: hostPlatform().architecture,
        Os: 'linux',
        Size: 12,
        RootFS: { Type: 'layers', Layers: busybox.diffIds },
        Metadata: { LastTagTime: '2024-06-01T00:00:00.000Z' },
        Config: {
          Cmd: ['sh'],
          Env: ['PATH=/bin'],
          Entrypoint: null,
          Labels: { team: 'core' },
          WorkingDir: '',
          User: '',
          Volumes: null,
        },
        GraphDriver: { Name: 'overlay2' },
      });
    });

    it('lists history newest first with layer sizes, id and tags on top', async () => {
      expect(await images.history('app:1')).toEqual([
        {
          Id: busybox.id,
          Created: Date.parse('2024-01-03T00:00:00Z') / 1000,
          CreatedBy: 'ADD b',
          Tags: ['app:1'],
          Size: 7,
          Comment: 'second',
        },
        {
          Id: '<missing>',
          Created: Date.parse('2024-01-02T00:00:00Z') / 1000,
          CreatedBy: 'ENV X=1',
          Tags: [],
          Size: 0,
          Comment: '',
        },
        {
          Id: '<missing>',
          Created: Date.parse('2024-01-01T00:00:00Z') / 1000,
          CreatedBy: 'ADD a',
          Tags: [],
          Size: 5,
          Comment: '',
        },
      ]);
    });
  });

  describe('tag and remove', () => {
    beforeEach(async () => {
      await load(await dockerSave([{ image: busybox, tags: ['busybox:latest'] }]));
    });

    it('gives an image another name', async () => {
      expect(await images.tag('busybox', 'registry.local/tools/bb', 'v1')).toBe('registry.local/tools/bb:v1');
      expect(images.inspect('busybox').RepoTags).toEqual(['busybox:latest', 'registry.local/tools/bb:v1']);
    });

    it('reads a tag inside the repository argument', async () => {
      await images.tag(busybox.id, 'mine:2');
      expect(images.resolve('mine:2').id).toBe(busybox.id);
    });

    it('refuses to tag with a digest', async () => {
      await expect(images.tag('busybox', `x@sha256:${'1'.repeat(64)}`)).rejects.toThrow(
        'refusing to create a tag with a digest reference',
      );
    });

    it('only untags while other names remain', async () => {
      await images.tag('busybox', 'other');
      expect(await images.remove('busybox')).toEqual([{ Untagged: 'busybox:latest' }]);
      expect(images.resolve('other').id).toBe(busybox.id);
    });

    it('deletes the image, its layers and its blobs with its last name', async () => {
      const chainIds = images.resolve('busybox').chainIds;
      expect(await images.remove('busybox')).toEqual([
        { Untagged: 'busybox:latest' },
        { Deleted: busybox.id },
        { Deleted: chainIds[1] },
        { Deleted: chainIds[0] },
      ]);
      expect(images.store.list()).toEqual([]);
      expect(readdirSync(join(root, 'layers'))).toEqual([]);
      expect(blobs()).toEqual([]);
    });

    it('keeps layers another image still uses', async () => {
      const child = await testImage(
        [
          [file('bin/busybox', 'BUSYBOX'), { header: { name: 'bin/sh', type: 'symlink', linkname: 'busybox' } }],
          [file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n')],
          [file('app', '1')],
        ],
        { created: '2024-02-01T00:00:00Z' },
      );
      await load(await dockerSave([{ image: child, tags: ['app:1'] }]));
      const items = await images.remove('busybox');
      expect(items.filter((item) => item.Deleted)).toEqual([{ Deleted: busybox.id }]);
      expect(readdirSync(join(root, 'layers'))).toHaveLength(3);
    });

    it('refuses to remove the last name of an image a container uses', async () => {
      inUse.set(busybox.id, { containerId: 'c0ffee'.repeat(10), running: false });
      await expect(images.remove('busybox')).rejects.toThrow(
        expect.objectContaining({
          kind: 'conflict',
          message: `conflict: unable to remove repository reference "busybox" (must force) - container c0ffeec0ffee is using its referenced image ${hex(busybox.id).slice(0, 12)}`,
        }),
      );
    });

    it('with force, untags an image in use but keeps it for the container', async () => {
      inUse.set(busybox.id, true);
      expect(await images.remove('busybox', { force: true })).toEqual([{ Untagged: 'busybox:latest' }]);
      expect(images.resolve(busybox.id).repoTags).toEqual([]);
    });

    it('refuses to delete by id an image a running container uses, even with force', async () => {
      inUse.set(busybox.id, { containerId: 'abc', running: true });
      await expect(images.remove(busybox.id, { force: true })).rejects.toThrow(
        /\(cannot be forced\) - image is being used by running container abc/,
      );
    });

    it('refuses to delete by id an image with several names unless forced', async () => {
      await images.tag('busybox', 'second');
      await expect(images.remove(hex(busybox.id).slice(0, 12))).rejects.toThrow(
        /\(must be forced\) - image is referenced in multiple repositories/,
      );
      const items = await images.remove(hex(busybox.id).slice(0, 12), { force: true });
      expect(items.slice(0, 3)).toEqual([
        { Untagged: 'busybox:latest' },
        { Untagged: 'second:latest' },
        { Deleted: busybox.id },
      ]);
    });

    it('reports removing a missing image as not found', async () => {
      await expect(images.remove('nothing')).rejects.toThrow('No such image: nothing:latest');
    });

    it('keeps names and images across a restart', async () => {
      await images.tag('busybox', 'again:1');
      const reopened = await open();
      expect(reopened.inspect('again:1').RepoTags).toEqual(['again:1', 'busybox:latest']);
    });
  });

  describe('list', () => {
    beforeEach(async () => {
      const web = await testImage([[file('web', '1')]], { created: '2024-03-01T00:00:00Z', labels: { tier: 'front' } });
      const orphan = await testImage([[file('orphan', '1')]], { created: '2024-02-01T00:00:00Z' });
      await load(
        await dockerSave([
          { image: busybox, tags: ['busybox:latest'] },
          { image: web, tags: ['web:1', 'web:2'] },
          { image: orphan, tags: null },
        ]),
      );
    });

    it('lists every image newest first as ImageSummary', async () => {
      const list = await images.list();
      expect(list.map((image) => image.RepoTags)).toEqual([['web:1', 'web:2'], [], ['busybox:latest']]);
      expect(list[2]).toEqual({
        Id: busybox.id,
        ParentId: '',
        RepoTags: ['busybox:latest'],
        RepoDigests: [],
        Created: Date.parse('2024-01-01T00:00:00Z') / 1000,
        Size: 'BUSYBOX'.length + 'root:x:0:0::/root:/bin/sh\n'.length,
        SharedSize: -1,
        VirtualSize: 'BUSYBOX'.length + 'root:x:0:0::/root:/bin/sh\n'.length,
        Labels: {},
        Containers: -1,
      });
    });

    it('applies the dangling, label and reference filters', async () => {
      expect((await images.list({ filters: '{"dangling":["true"]}' })).map((image) => image.RepoTags)).toEqual([[]]);
      expect((await images.list({ filters: { label: ['tier=front'] } })).map((image) => image.RepoTags)).toEqual([
        ['web:1', 'web:2'],
      ]);
      expect((await images.list({ filters: { reference: ['web:2'] } })).map((image) => image.RepoTags)).toEqual([
        ['web:2'],
      ]);
    });

    it('refuses an unknown filter', async () => {
      await expect(images.list({ filters: { shape: ['round'] } })).rejects.toThrow("invalid filter 'shape'");
    });

    it('prunes dangling images only', async () => {
      const result = await images.prune();
      expect(result.ImagesDeleted[0]).toMatchObject({ Deleted: expect.stringMatching(/^sha256:/) });
      expect((await images.list()).map((image) => image.RepoTags)).toEqual([['web:1', 'web:2'], ['busybox:latest']]);
    });
  });

  describe('save', () => {
    beforeEach(async () => {
      await load(await dockerSave([{ image: busybox, tags: ['busybox:latest', 'busybox:1'] }]));
    });

    it('writes manifest.json, an OCI index and blobs named by their digest', async () => {
      const files = await untar(await images.save(['busybox:latest']));
      const manifest = JSON.parse(files.get('manifest.json')!.toString());
      expect(manifest).toEqual([
        {
          Config: `blobs/sha256/${hex(busybox.id)}`,
          RepoTags: ['busybox:latest'],
          Layers: busybox.diffIds.map((d) => `blobs/sha256/${hex(d)}`),
        },
      ]);
      for (const [name, body] of files) {
        if (name.startsWith('blobs/sha256/'))
          expect(sha(body), name).toBe(`sha256:${name.slice('blobs/sha256/'.length)}`);
      }
      expect(JSON.parse(files.get('oci-layout')!.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
      const index = JSON.parse(files.get('index.json')!.toString());
      expect(index.manifests[0].annotations).toEqual({
        'io.containerd.image.name': 'docker.io/library/busybox:latest',
        'org.opencontainers.image.ref.name': 'latest',
      });
      expect(JSON.parse(files.get('repositories')!.toString())).toEqual({
        busybox: { latest: hex(busybox.diffIds[1]) },
      });
    });

    it('saves every tag of a repository named without a tag', async () => {
      const files = await untar(await images.save(['busybox']));
      expect(JSON.parse(files.get('manifest.json')!.toString())[0].RepoTags.sort()).toEqual([
        'busybox:1',
        'busybox:latest',
      ]);
    });

    it('saves an image named by id without names', async () => {
      const files = await untar(await images.save([busybox.id]));
      expect(JSON.parse(files.get('manifest.json')!.toString())[0].RepoTags).toBeNull();
    });

    it('fails before streaming for a missing image', async () => {
      await expect(images.save(['busybox', 'nothing:1'])).rejects.toThrow('No such image: nothing:1');
    });

    it('round-trips: what it saves loads into another engine as the same image', async () => {
      const archive = await untar(await images.save(['busybox:latest']));
      const chunks = await tarBuffer([...archive].map(([name, body]) => file(name, body)));
      const otherRoot = await mkdtemp(join(tmpdir(), 'skiff-images-other-'));
      try {
        const other = await open(otherRoot);
        const result = await other.load(chunked(chunks));
        expect(result.lines).toEqual(['Loaded image: busybox:latest']);
        expect(other.inspect('busybox').RootFS.Layers).toEqual(busybox.diffIds);
        expect(other.resolve('busybox').id).toBe(busybox.id);
      } finally {
        await rm(otherRoot, { recursive: true, force: true });
      }
    });
  });

  describe('import', () => {
    it('makes a one-layer image from a root filesystem tar, with changes and a name', async () => {
      const rootfs = await tarBuffer([file('bin/tool', 'x')]);
      const result = await images.importImage(chunked(gzipSync(rootfs)), {
        repository: 'imported',
        tag: 'v1',
        changes: ['CMD ["/bin/tool"]', 'ENV MODE=test'],
        message: 'from a test',
      });
      expect(result.tags).toEqual(['imported:v1']);
      const inspect = images.inspect('imported:v1');
      expect(inspect).toMatchObject({
        Id: result.id,
        Comment: 'from a test',
        Created: '2024-06-01T00:00:00.000Z',
        Config: { Cmd: ['/bin/tool'], Env: ['MODE=test'] },
        RootFS: { Layers: [sha(rootfs)] },
      });
      expect((await images.history('imported:v1'))[0]).toMatchObject({ Comment: 'from a test', Size: 1 });
    });

    it('makes an untagged image without a repository', async () => {
      const result = await images.importImage(chunked(await tarBuffer([file('a', 'b')])));
      expect(result.tags).toEqual([]);
      expect(images.inspect(result.id).Comment).toBe('Imported from -');
    });

    it('refuses an invalid change before reading anything', async () => {
      await expect(images.importImage(chunked(await tarBuffer([])), { changes: ['RUN x'] })).rejects.toThrow(
        'run is not a valid change command',
      );
      expect(blobs()).toEqual([]);
    });

    it('refuses a malicious archive and keeps nothing', async () => {
      await expect(images.importImage(chunked(await tarBuffer([file('../x', 'y')])))).rejects.toThrow(
        /refusing tar entry "..\/x"/,
      );
      expect(blobs()).toEqual([]);
      expect(readdirSync(join(root, 'layers'))).toEqual([]);
    });
  });

  describe('rootfsPlan', () => {
    it('plans the overlay with the top layer first', async () => {
      await load(await dockerSave([{ image: busybox, tags: ['busybox:latest'] }]));
      const plan = await images.rootfsPlan('c1', 'busybox');
      const [bottom, top] = images.resolve('busybox').chainIds;
      expect(plan.rootfs).toEqual({
        kind: 'overlay',
        target: join(root, 'containers/c1/merged'),
        lowerDirs: [images.layers.diffDirectory(top), images.layers.diffDirectory(bottom)],
        upperDir: join(root, 'containers/c1/upper'),
        workDir: join(root, 'containers/c1/work'),
      });
      expect(sys.calls.filter((call) => call.call === 'mount')).toEqual([]);
    });
  });

  describe('addBuiltImage', () => {
    const stepConfig = (parent: TestImage, createdBy: string) => (diffId: Digest | undefined) => ({
      ...JSON.parse(parent.config.toString()),
      created: '2024-06-01T00:00:00Z',
      rootfs: { type: 'layers', diff_ids: [...parent.diffIds, ...(diffId ? [diffId] : [])] },
      history: [
        ...(JSON.parse(parent.config.toString()) as { history: object[] }).history,
        { created: '2024-06-01T00:00:00Z', created_by: createdBy, ...(diffId ? {} : { empty_layer: true }) },
      ],
    });

    it('stacks a build step on its parent image, with its layer, and shows the parent in the history', async () => {
      await load(await dockerSave([{ image: busybox, tags: ['busybox:latest'] }]));
      const layer = await tarBuffer([file('app/out.txt', 'built')]);
      const step = await images.addBuiltImage({
        parent: busybox.id,
        layer: () => chunked(layer),
        config: stepConfig(busybox, 'RUN make'),
      });
      expect(step.record.parent).toBe(busybox.id);
      expect(step.chainIds.slice(0, 2)).toEqual(images.resolve('busybox').chainIds);
      expect(readFileSync(join(images.layers.diffDirectory(step.chainIds[2]), 'app/out.txt'), 'utf8')).toBe('built');
      const history = await images.history(step.id);
      expect(history.map((row) => [row.Id, row.CreatedBy])).toEqual([
        [step.id, 'RUN make'],
        [busybox.id, 'step 2'],
        ['<missing>', 'step 1'],
      ]);
    });

    it('keeps an image a build holds from rmi and prune until it is released', async () => {
      await load(await dockerSave([{ image: busybox, tags: null }]));
      const release = images.hold(busybox.id);
      await expect(images.remove(busybox.id, { force: true })).rejects.toThrow(/being used/);
      expect((await images.prune()).ImagesDeleted).toEqual([]);
      release();
      release();
      expect((await images.prune()).ImagesDeleted).toContainEqual({ Deleted: busybox.id });
    });

    it('adds no layer for a metadata-only step', async () => {
      await load(await dockerSave([{ image: busybox, tags: ['busybox:latest'] }]));
      const step = await images.addBuiltImage({ parent: busybox.id, config: stepConfig(busybox, 'ENV A=b') });
      expect(step.chainIds).toEqual(images.resolve('busybox').chainIds);
      expect(step.config.history?.at(-1)).toMatchObject({ created_by: 'ENV A=b', empty_layer: true });
    });

    it('leaves no layer and no blob behind when the step cannot be recorded', async () => {
      await load(await dockerSave([{ image: busybox, tags: ['busybox:latest'] }]));
      const before = { blobs: blobs(), layers: (await images.layers.list()).length };
      const layer = await tarBuffer([file('app/out.txt', 'built')]);
      await expect(
        images.addBuiltImage({ parent: busybox.id, layer: () => chunked(layer), config: () => ({ rootfs: {} }) }),
      ).rejects.toThrow(/rootfs/);
      expect(blobs()).toEqual(before.blobs);
      expect((await images.layers.list()).length).toBe(before.layers);
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    });
  });
});
