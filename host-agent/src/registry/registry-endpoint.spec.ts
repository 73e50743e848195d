import { describe, expect, it } from 'vitest';

import { defaultRegistryConfig, parseRegistryConfig } from './registry-config.js';
import { DOCKER_HUB_API, planEndpoints } from './registry-endpoint.js';

describe(planEndpoints.name, () => {
  it("sends docker.io to Docker Hub's API, behind the mirrors for pulls only", () => {
    const config = parseRegistryConfig({ 'registry-mirrors': ['https://mirror.example.com', 'http://10.0.0.5:5000'] });
    expect(
      planEndpoints('docker.io', config, 'pull', false).map((endpoint) => [endpoint.origin, endpoint.mirror]),
    ).toEqual([
      ['https://mirror.example.com', true],
      ['http://10.0.0.5:5000', true],
      [DOCKER_HUB_API, false],
    ]);
    expect(planEndpoints('docker.io', config, 'push', false).map((endpoint) => endpoint.origin)).toEqual([
      DOCKER_HUB_API,
    ]);
  });

  it('reaches a secure registry over verified HTTPS only', () => {
    expect(planEndpoints('registry.example.com', defaultRegistryConfig(), 'pull', false)).toEqual([
      { origin: 'https://registry.example.com', registry: 'registry.example.com', mirror: false, skipTlsVerify: false },
    ]);
  });

  it('tries an insecure registry over unverified HTTPS, then plain HTTP', () => {
    expect(planEndpoints('127.0.0.1:5000', defaultRegistryConfig(), 'push', true)).toEqual([
      { origin: 'https://127.0.0.1:5000', registry: '127.0.0.1:5000', mirror: false, skipTlsVerify: true },
      { origin: 'http://127.0.0.1:5000', registry: '127.0.0.1:5000', mirror: false, skipTlsVerify: false },
    ]);
  });
});
