import { describe, expect, it } from 'vitest';

import { sha256Digest } from '../snapshots/digest.js';
import type { Descriptor } from './image-config.js';
import { choosePlatform } from './image-load-plan.js';

const manifest = (
  name: string,
  platform?: Descriptor['platform'],
  annotations?: Record<string, string>,
): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: sha256Digest(name),
  size: 1,
  ...(platform ? { platform } : {}),
  ...(annotations ? { annotations } : {}),
});

describe(choosePlatform.name, () => {
  const amd64 = manifest('amd64', { os: 'linux', architecture: 'amd64' });
  const arm64 = manifest('arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
  const armv7 = manifest('armv7', { os: 'linux', architecture: 'arm', variant: 'v7' });
  const armv6 = manifest('armv6', { os: 'linux', architecture: 'arm', variant: 'v6' });
  const attestation = manifest(
    'att',
    { os: 'unknown', architecture: 'unknown' },
    { 'vnd.docker.reference.type': 'attestation-manifest' },
  );

  it('picks the manifest of the host platform', () => {
    expect(choosePlatform([arm64, attestation, amd64], { os: 'linux', architecture: 'amd64' })).toBe(amd64);
  });

  it('prefers the matching variant', () => {
    expect(choosePlatform([armv6, armv7], { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(armv7);
  });

  it('finds nothing when no manifest fits', () => {
    expect(choosePlatform([arm64, attestation], { os: 'linux', architecture: 'amd64' })).toBeUndefined();
  });

  it('takes a manifest without a platform when it is the only kind', () => {
    const plain = manifest('plain');
    expect(choosePlatform([plain], { os: 'linux', architecture: 'amd64' })).toBe(plain);
  });
});
