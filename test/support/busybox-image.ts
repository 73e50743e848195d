/**
 * A real, runnable test image built from Debian's busybox-static, for tests of image loading,
 * container runs and anything else that needs an image while no registry can be reached.
 *
 * The root filesystem has /bin/busybox, a symlink per applet (`busybox --list`), /etc/passwd
 * (root and nobody), /etc/group, /tmp (1777) and the usual empty mount points, in one layer.
 * It is packed as a `docker save` archive (manifest.json, `<config>.json`, `<id>/layer.tar`,
 * repositories) or as an OCI image layout tar (oci-layout, index.json, blobs/sha256/…), written
 * with tar-stream alone, so it is an independent check of the engine's own archive code.
 * Times are fixed: the same busybox binary always gives the same image id.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export const BUSYBOX_PATH = '/bin/busybox';
const CREATED = '2024-01-01T00:00:00Z';
const MTIME = new Date(CREATED);
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type BusyboxArchiveFormat = 'docker-save' | 'oci-layout';

export interface BusyboxImageOptions {
  format?: BusyboxArchiveFormat;
  /** The name the archive gives the image; default `busybox:latest`. */
  tag?: string;
  /** Where to write the archive; default a new temporary directory. */
  directory?: string;
  /** Gzip the layer blob (OCI layout only; docker-save layers are plain tars). */
  gzipLayer?: boolean;
  /** More of the image's container defaults (`config.config`), e.g. a Healthcheck. */
  containerConfig?: Record<string, unknown>;
  /**
   * Layers on top of busybox, each with one file `/filler-<n>` of random bytes (docker-save
   * only): an image that takes a while to load, and differs from every other.
   */
  fillerLayers?: { count: number; bytes: number };
}

export interface BusyboxImage {
  archivePath: string;
  format: BusyboxArchiveFormat;
  /** `sha256:…` of the config: the image id. */
  imageId: string;
  /** `sha256:…` of the uncompressed layer tar. */
  diffId: string;
  /** `sha256:…` of the layer as stored in the archive (the diff id unless gzipped). */
  layerDigest: string;
  /** OCI layout only: `sha256:…` of the image manifest. */
  manifestDigest?: string;
  repoTag: string;
  applets: string[];
  config: Record<string, unknown>;
  /** Removes the temporary directory (only when the builder made it). */
  cleanup: () => Promise<void>;
}

/** Debian's busybox-static, installed if missing (the dpkg lock may be held by another install). */
export function ensureBusybox(): string {
  if (!existsSync(BUSYBOX_PATH)) {
    execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', 'busybox-static'], { stdio: 'ignore' });
  }
  return BUSYBOX_PATH;
}

export function busyboxApplets(): string[] {
  return execFileSync(ensureBusybox(), ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim())
    .filter((applet) => applet !== '' && applet !== 'busybox');
}

export interface Entry {
  header: tar.Header | (Partial<tar.Header> & { name: string });
  body?: Buffer | string;
}

/** A tar of `entries`, with tar-stream only. */
export async function packEntries(entries: readonly Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const { header, body } of entries) {
    await new Promise<void>((resolve, reject) => {
      const callback = (error?: Error | null): void => (error ? reject(error) : resolve());
      if (body === undefined) pack.entry({ mtime: MTIME, ...header }, callback);
      else pack.entry({ mtime: MTIME, ...header }, body, callback);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The root filesystem of the image as one uncompressed layer tar, with `extraEntries` at its end. */
export async function busyboxRootfsTar(extraEntries: readonly Entry[] = []): Promise<Buffer> {
  const binary = readFileSync(ensureBusybox());
  const dir = (name: string, mode = 0o755): Entry => ({ header: { name, type: 'directory', mode } });
  const file = (name: string, body: Buffer | string, mode = 0o644): Entry => ({
    header: { name, type: 'file', mode },
    body,
  });
  return packEntries([
    dir('bin/'),
    file('bin/busybox', binary, 0o755),
    ...busyboxApplets().map((applet): Entry => ({
      header: { name: `bin/${applet}`, type: 'symlink', linkname: 'busybox', mode: 0o777 },
    })),
    dir('dev/'),
    dir('etc/'),
    file('etc/group', 'root:x:0:\nnogroup:x:65534:\n'),
    file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n'),
    dir('proc/'),
    dir('root/', 0o700),
    dir('sys/'),
    dir('tmp/', 0o1777),
    ...extraEntries,
  ]);
}

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const hex = (digest: string): string => digest.slice('sha256:'.length);

function hostArchitecture(): string {
  const names: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
  };
  return names[process.arch] ?? process.arch;
}

/** Builds the archive in a file and describes it. */
export async function buildBusyboxImage(options: BusyboxImageOptions = {}): Promise<BusyboxImage> {
  const format = options.format ?? 'docker-save';
  const repoTag = options.tag ?? 'busybox:latest';
  const ownDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'skiff-busybox-')));
  const layer = await busyboxRootfsTar();
  const diffId = sha256(layer);
  const fillers: Buffer[] = [];
  for (let index = 0; index < (options.fillerLayers?.count ?? 0); index++) {
    fillers.push(
      await packEntries([
        {
          header: { name: `filler-${index}`, type: 'file', mode: 0o644, mtime: MTIME },
          body: randomBytes(options.fillerLayers?.bytes ?? 0),
        },
      ]),
    );
  }
  const config = {
    architecture: hostArchitecture(),
    os: 'linux',
    created: CREATED,
    config: { Env: [PATH_ENV], Cmd: ['sh'], ...options.containerConfig },
    rootfs: { type: 'layers', diff_ids: [diffId, ...fillers.map(sha256)] },
    history: [
      { created: CREATED, created_by: '/bin/sh -c #(nop) ADD file:busybox-static in / ' },
      { created: CREATED, created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
    ],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const imageId = sha256(configBytes);
  const file = (name: string, body: Buffer | string): Entry => ({ header: { name, type: 'file', mode: 0o644 }, body });
  const dir = (name: string): Entry => ({ header: { name, type: 'directory', mode: 0o755 } });
  let archive: Buffer;
  let layerDigest = diffId;
  let manifestDigest: string | undefined;
  if (format === 'docker-save') {
    // The layout of Docker 1.10 to 24: a directory per layer named by a v1 id.
    const layerIds = [layer, ...fillers].map((tarball) => hex(sha256(`${sha256(tarball)} busybox`)));
    const [repository, tag] = splitTag(repoTag);
    archive = await packEntries([
      file(`${hex(imageId)}.json`, configBytes),
      ...[layer, ...fillers].flatMap((tarball, index) => [
        dir(`${layerIds[index]}/`),
        file(`${layerIds[index]}/VERSION`, '1.0'),
        file(`${layerIds[index]}/json`, JSON.stringify({ id: layerIds[index], created: CREATED, os: 'linux' })),
        file(`${layerIds[index]}/layer.tar`, tarball),
      ]),
      file(
        'manifest.json',
        JSON.stringify([
          {
            Config: `${hex(imageId)}.json`,
            RepoTags: [repoTag],
            Layers: layerIds.map((id) => `${id}/layer.tar`),
          },
        ]),
      ),
      file('repositories', JSON.stringify({ [repository]: { [tag]: layerIds.at(-1) } })),
    ]);
  } else {
    const layerBlob = options.gzipLayer === true ? gzipSync(layer) : layer;
    layerDigest = sha256(layerBlob);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: imageId, size: configBytes.length },
        layers: [
          {
            mediaType:
              options.gzipLayer === true
                ? 'application/vnd.oci.image.layer.v1.tar+gzip'
                : 'application/vnd.oci.image.layer.v1.tar',
            digest: layerDigest,
            size: layerBlob.length,
          },
        ],
      }),
    );
    manifestDigest = sha256(manifest);
    const fullName = repoTag.includes('/') ? repoTag : `docker.io/library/${repoTag}`;
    archive = await packEntries([
      file('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' })),
      dir('blobs/'),
      dir('blobs/sha256/'),
      file(`blobs/sha256/${hex(layerDigest)}`, layerBlob),
      file(`blobs/sha256/${hex(imageId)}`, configBytes),
      file(`blobs/sha256/${hex(manifestDigest)}`, manifest),
      file(
        'index.json',
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: manifestDigest,
              size: manifest.length,
              annotations: {
                'io.containerd.image.name': fullName,
                'org.opencontainers.image.ref.name': splitTag(repoTag)[1],
              },
            },
          ],
        }),
      ),
    ]);
  }
  const archivePath = join(directory, `busybox-${format}-${hex(imageId).slice(0, 12)}.tar`);
  await writeFile(archivePath, archive);
  return {
    archivePath,
    format,
    imageId,
    diffId,
    layerDigest,
    ...(manifestDigest === undefined ? {} : { manifestDigest }),
    repoTag,
    applets: busyboxApplets(),
    config,
    cleanup: async () => {
      if (ownDirectory) await rm(directory, { recursive: true, force: true });
    },
  };
}

function splitTag(reference: string): [string, string] {
  const colon = reference.lastIndexOf(':');
  if (colon > reference.lastIndexOf('/')) return [reference.slice(0, colon), reference.slice(colon + 1)];
  return [reference, 'latest'];
}
