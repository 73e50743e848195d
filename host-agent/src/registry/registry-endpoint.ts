/**
 * Where a registry named in an image reference is reached. `docker.io` is Docker Hub's API at
 * registry-1.docker.io, with the configured mirrors first for pulls (never for pushes); any other
 * name is its own host. An insecure registry is tried over HTTPS without certificate checks and
 * then over plain HTTP, as dockerd does.
 */
import { DEFAULT_DOMAIN } from '../images/image-reference.js';
import { isInsecureRegistry, type RegistryConfig } from './registry-config.js';

export const DOCKER_HUB_API = 'https://registry-1.docker.io';

export interface RegistryEndpoint {
  /** The origin requests go to, e.g. `https://registry-1.docker.io`, `http://127.0.0.1:5000`. */
  origin: string;
  /** The registry as references name it: `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** A Docker Hub mirror: on failure the next endpoint is tried. */
  mirror: boolean;
  /** HTTPS without certificate verification. */
  skipTlsVerify: boolean;
}

export type EndpointPurpose = 'pull' | 'push' | 'login';

/** The endpoints to try, in order (pure: whether the registry is insecure is decided by the caller). */
export function planEndpoints(
  registry: string,
  config: RegistryConfig,
  purpose: EndpointPurpose,
  insecure: boolean,
): RegistryEndpoint[] {
  if (registry === DEFAULT_DOMAIN) {
    const mirrors: RegistryEndpoint[] =
      purpose === 'pull'
        ? config.mirrors.map((mirror) => ({
            origin: mirror.origin,
            registry,
            mirror: true,
            skipTlsVerify: config.insecureHosts.includes(mirror.host.toLowerCase()),
          }))
        : [];
    return [...mirrors, { origin: DOCKER_HUB_API, registry, mirror: false, skipTlsVerify: false }];
  }
  const https: RegistryEndpoint = { origin: `https://${registry}`, registry, mirror: false, skipTlsVerify: insecure };
  if (!insecure) return [https];
  return [https, { origin: `http://${registry}`, registry, mirror: false, skipTlsVerify: false }];
}

export async function resolveEndpoints(
  registry: string,
  config: RegistryConfig,
  purpose: EndpointPurpose,
): Promise<RegistryEndpoint[]> {
  const insecure = registry === DEFAULT_DOMAIN ? false : await isInsecureRegistry(config, registry);
  return planEndpoints(registry, config, purpose, insecure);
}
