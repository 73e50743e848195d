import { describe, expect, it } from 'vitest';

import { MEDIA_TYPE, type Descriptor } from '../images/image-config.js';
import {
  checkConfigMediaType,
  checkIndexEntry,
  classifyManifest,
  layerCompression,
  requireManifest,
  selectManifest,
} from './manifest-selection.js';

const digest = (n: number) => `sha256:${String(n).padStart(64, '0')}` as const;
const entry = (n: number, platform?: Descriptor['platform'], annotations?: Record<string, string>): Descriptor => ({
  mediaType: MEDIA_TYPE.ociManifest,
  digest: digest(n),
  size: 100,
  ...(platform ? { platform } : {}),
  ...(annotations ? { annotations } : {}),
});

describe(selectManifest.name, () => {
  const amd64 = entry(1, { os: 'linux', architecture: 'amd64' });
  const arm64 = entry(2, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  const armV6 = entry(3, { os: 'linux', architecture: 'arm', variant: 'v6' });
  const attestation = entry(
    4,
    { os: 'unknown', architecture: 'unknown' },
    {
      'vnd.docker.reference.type': 'attestation-manifest',
    },
  );

  it('takes the entry of the platform, skipping attestations listed first', () => {
    expect(selectManifest([attestation, arm64, amd64], { os: 'linux', architecture: 'amd64' })).toBe(amd64);
  });

  it('matches arm64 with or without the v8 variant', () => {
    expect(selectManifest([amd64, arm64], { os: 'linux', architecture: 'arm64' })).toBe(arm64);
    const bare = entry(5, { os: 'linux', architecture: 'arm64' });
    expect(selectManifest([bare], { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(bare);
  });

  it('lets a 32-bit arm host run an older variant when its own is missing', () => {
    expect(selectManifest([armV6], { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(armV6);
    expect(selectManifest([armV6], { os: 'linux', architecture: 'arm', variant: 'v5' })).toBeUndefined();
  });

  it('never takes an attestation or an entry without a platform', () => {
    expect(selectManifest([attestation, entry(6)], { os: 'linux', architecture: 'amd64' })).toBeUndefined();
  });

  it('names the platforms on offer when none fits', () => {
    expect(() => requireManifest([attestation, arm64, armV6], { os: 'linux', architecture: 'amd64' }, 'app:1')).toThrow(
      'no matching manifest for linux/amd64 in the manifest list entries of app:1 (it has linux/arm64/v8, linux/arm/v6)',
    );
  });
});

describe(classifyManifest.name, () => {
  it("believes the document's mediaType over the answer's Content-Type", () => {
    expect(classifyManifest({ mediaType: MEDIA_TYPE.dockerManifestList }, 'application/json', 'x').kind).toBe('index');
    expect(classifyManifest({ schemaVersion: 2 }, `${MEDIA_TYPE.ociManifest}; charset=utf-8`, 'x').kind).toBe(
      'manifest',
    );
  });

  it('tells a manifest from an index by its shape when nothing names the type', () => {
    expect(classifyManifest({ schemaVersion: 2, manifests: [] }, undefined, 'x').kind).toBe('index');
    expect(classifyManifest({ schemaVersion: 2, config: {}, layers: [] }, 'application/json', 'x').kind).toBe(
      'manifest',
    );
  });

  it('refuses schema 1 and unknown media types, naming them', () => {
    expect(() =>
      classifyManifest(
        { schemaVersion: 1 },
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
        'the manifest of a:1',
      ),
    ).toThrow('the manifest of a:1 is a Docker image manifest v2 schema 1');
    expect(() => classifyManifest({}, 'application/vnd.example+json', 'the manifest of a:1')).toThrow(
      'the manifest of a:1 has an unsupported manifest media type application/vnd.example+json',
    );
  });
});

describe('media type checks', () => {
  it('knows the compression of each layer media type and refuses others', () => {
    expect(layerCompression({ ...entry(1), mediaType: MEDIA_TYPE.dockerLayerGzip }, 'l')).toBe('gzip');
    expect(layerCompression({ ...entry(1), mediaType: MEDIA_TYPE.ociLayerZstd }, 'l')).toBe('zstd');
    expect(layerCompression({ ...entry(1), mediaType: MEDIA_TYPE.ociLayer }, 'l')).toBe('none');
    expect(() =>
      layerCompression(
        { ...entry(1), mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' },
        'layer 1',
      ),
    ).toThrow('layer 1 is a foreign layer');
    expect(() => layerCompression({ ...entry(1), mediaType: 'text/plain' }, 'layer 1')).toThrow(
      'layer 1 has an unsupported media type text/plain',
    );
  });

  it('refuses configs that are not image configs, and index entries that are not manifests', () => {
    expect(() =>
      checkConfigMediaType({ ...entry(1), mediaType: 'application/vnd.cncf.helm.config.v1+json' }, 'chart:1'),
    ).toThrow('chart:1 is not a container image');
    expect(() => checkIndexEntry({ ...entry(1), mediaType: 'application/x-unknown' }, 'the list')).toThrow(
      'unsupported media type application/x-unknown',
    );
  });
});
