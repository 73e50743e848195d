/**
 * Test images for the registry tests, made by hand (tar-stream, zlib, the zstd CLI) as OCI image
 * layouts that `skopeo copy` puts into a registry, or pushed straight over the distribution API
 * (`pushRaw`) when the point is a document no tool would write: a manifest of an unknown media
 * type, a blob that is not what its digest says.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { ensureZstd } from './test-registry.js';

const run = promisify(execFile);

export type LayerCompression = 'gzip' | 'zstd' | 'none';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: {
    none: 'application/vnd.oci.image.layer.v1.tar',
    gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
    zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  },
} as const;

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface Blob {
  digest: string;
  bytes: Buffer;
}

export interface TestImage {
  manifest: Descriptor;
  manifestBytes: Buffer;
  config: Blob;
  layers: (Blob & { diffId: string; mediaType: string })[];
  /** Every blob the image needs, manifest included. */
  blobs: Blob[];
}

export function compress(tar: Buffer, compression: LayerCompression): Buffer {
  if (compression === 'gzip') return gzipSync(tar);
  if (compression === 'zstd') return execFileSync(ensureZstd(), ['-q', '-c', '-3'], { input: tar, maxBuffer: 1 << 30 });
  return tar;
}

export function hostArchitecture(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
}

export interface ImageSpec {
  /** Layer tars, bottom first, with how each is compressed. */
  layers: { tar: Buffer; compression: LayerCompression; mediaType?: string }[];
  architecture?: string;
  variant?: string;
  /** Container defaults (`config.config`). */
  defaults?: Record<string, unknown>;
  /** Overrides of the config's diff ids (to make a config that lies). */
  diffIds?: string[];
  configMediaType?: string;
}

/** Builds the blobs of one image (config, layers, manifest). */
export function makeImage(spec: ImageSpec): TestImage {
  const layers = spec.layers.map(({ tar, compression, mediaType }) => {
    const bytes = compress(tar, compression);
    return { digest: sha256(bytes), bytes, diffId: sha256(tar), mediaType: mediaType ?? MEDIA.layer[compression] };
  });
  const configJson = {
    architecture: spec.architecture ?? hostArchitecture(),
    os: 'linux',
    ...(spec.variant ? { variant: spec.variant } : {}),
    created: '2024-01-01T00:00:00Z',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['sh'],
      ...spec.defaults,
    },
    rootfs: { type: 'layers', diff_ids: spec.diffIds ?? layers.map((layer) => layer.diffId) },
    history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test layer' })),
  };
  const configBytes = Buffer.from(JSON.stringify(configJson));
  const config = { digest: sha256(configBytes), bytes: configBytes };
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: spec.configMediaType ?? MEDIA.config, digest: config.digest, size: configBytes.length },
      layers: layers.map((layer) => ({ mediaType: layer.mediaType, digest: layer.digest, size: layer.bytes.length })),
    }),
  );
  const manifest: Descriptor = {
    mediaType: MEDIA.manifest,
    digest: sha256(manifestBytes),
    size: manifestBytes.length,
    platform: {
      os: 'linux',
      architecture: spec.architecture ?? hostArchitecture(),
      ...(spec.variant ? { variant: spec.variant } : {}),
    },
  };
  return {
    manifest,
    manifestBytes,
    config,
    layers,
    blobs: [config, ...layers, { digest: manifest.digest, bytes: manifestBytes }],
  };
}

/** An image index over `entries`. */
export function makeIndex(entries: Descriptor[]): Blob & { descriptor: Descriptor } {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: entries }));
  const digest = sha256(bytes);
  return { digest, bytes, descriptor: { mediaType: MEDIA.index, digest, size: bytes.length } };
}

/** An OCI image layout directory holding `blobs`, whose index.json names `top` as `ref`. */
export async function writeLayout(blobs: readonly Blob[], top: Descriptor, ref: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'skiff-oci-'));
  await mkdir(join(directory, 'blobs/sha256'), { recursive: true });
  for (const blob of blobs) await writeFile(join(directory, 'blobs/sha256', blob.digest.slice(7)), blob.bytes);
  await writeFile(join(directory, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const entry = { ...top, annotations: { ...top.annotations, 'org.opencontainers.image.ref.name': ref } };
  await writeFile(join(directory, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
  return directory;
}

/** `skopeo copy` from an OCI layout into the registry (all platforms of an index). */
export async function skopeoPush(layout: string, ref: string, destination: string): Promise<void> {
  await run(
    'skopeo',
    ['copy', '--all', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${ref}`, `docker://${destination}`],
    {
      timeout: 120_000,
    },
  );
}

export async function removeLayout(directory: string): Promise<void> {
  await rm(directory, { recursive: true, force: true });
}

/**
 * Puts blobs and a manifest into a registry over the distribution API itself, checking nothing
 * of what they hold (the registry checks only that referenced blobs exist).
 */
export async function pushRaw(
  registry: string,
  repository: string,
  blobs: readonly Blob[],
  manifest: { bytes: Buffer; mediaType: string; reference: string },
  authorization?: string,
): Promise<void> {
  const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
  for (const blob of blobs) {
    const started = await fetch(`http://${registry}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers });
    if (started.status !== 202) throw new Error(`upload start: ${started.status} ${await started.text()}`);
    const location = new URL(started.headers.get('location')!, `http://${registry}`);
    location.searchParams.set('digest', blob.digest);
    const put = await fetch(location, {
      method: 'PUT',
      headers: { ...headers, 'Content-Type': 'application/octet-stream' },
      body: blob.bytes,
    });
    if (put.status !== 201) throw new Error(`blob put: ${put.status} ${await put.text()}`);
  }
  const put = await fetch(`http://${registry}/v2/${repository}/manifests/${manifest.reference}`, {
    method: 'PUT',
    headers: { ...headers, 'Content-Type': manifest.mediaType },
    body: manifest.bytes,
  });
  if (put.status !== 201) throw new Error(`manifest put: ${put.status} ${await put.text()}`);
}
