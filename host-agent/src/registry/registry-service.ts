/**
 * What pull, push and login share: the HTTP agents, the registry settings (read afresh for each
 * operation), which endpoint of a registry answered last time, the blob-source hints for
 * cross-repository mounts, and the blobs in-flight pulls rely on.
 */
import { join } from 'node:path';

import { EngineError } from '../engine-error.js';
import type { ImageService } from '../images/image-service.js';
import type { Digest } from '../snapshots/digest.js';
import { BlobSources } from './blob-sources.js';
import { DEFAULT_EXPANSION_LIMITS, type ExpansionLimits } from './expansion-guard.js';
import { RegistryClient } from './registry-client.js';
import { isInsecureRegistry, loadRegistryConfig, type RegistryConfig } from './registry-config.js';
import type { RegistryCredentials } from './registry-credentials.js';
import { resolveEndpoints, type EndpointPurpose, type RegistryEndpoint } from './registry-endpoint.js';
import { ConnectionError, RegistryHttp } from './registry-http.js';

export interface RegistryServiceOptions {
  images: ImageService;
  /** The settings file (`registries.json`); absent means the defaults. */
  configPath?: string;
  /** Where the blob-source hints are kept (default `<image root>/registry`). */
  stateDirectory?: string;
  limits?: ExpansionLimits;
  /** Layers downloaded at once (dockerd: 3) and uploaded at once (dockerd: 5). */
  downloads?: number;
  uploads?: number;
}

export interface Connection {
  client: RegistryClient;
  config: RegistryConfig;
}

export class RegistryService {
  readonly http = new RegistryHttp();
  readonly images: ImageService;
  readonly blobSources: BlobSources;
  readonly limits: ExpansionLimits;
  readonly downloads: number;
  readonly uploads: number;
  private readonly preferred = new Map<string, string>();
  private readonly leases = new Map<Digest, number>();

  constructor(private readonly options: RegistryServiceOptions) {
    this.images = options.images;
    this.blobSources = new BlobSources(
      join(options.stateDirectory ?? join(options.images.content.root, 'registry'), 'blob-sources.json'),
    );
    this.limits = options.limits ?? DEFAULT_EXPANSION_LIMITS;
    this.downloads = options.downloads ?? 3;
    this.uploads = options.uploads ?? 5;
  }

  config(): Promise<RegistryConfig> {
    return loadRegistryConfig(this.options.configPath);
  }

  /**
   * Runs `task` against the registry's endpoints in turn until one works: the next endpoint is
   * tried when one cannot be reached (HTTPS then HTTP for an insecure registry), and when a
   * mirror fails in any way but a refusal of credentials.
   */
  async withRegistry<T>(
    target: { registry: string; repository: string; credentials: RegistryCredentials; scopes: readonly string[] },
    purpose: EndpointPurpose,
    signal: AbortSignal | undefined,
    task: (connection: Connection) => Promise<T>,
  ): Promise<T> {
    const config = await this.config();
    const endpoints = this.ordered(target.registry, await resolveEndpoints(target.registry, config, purpose));
    const isInsecure = (host: string): Promise<boolean> => isInsecureRegistry(config, host);
    let lastError: unknown;
    for (const endpoint of endpoints) {
      const client = new RegistryClient({
        http: this.http,
        endpoint,
        repository: target.repository,
        credentials: target.credentials,
        scopes: target.scopes,
        isInsecure,
        ...(signal ? { signal } : {}),
      });
      try {
        await client.ping();
        this.preferred.set(target.registry, endpoint.origin);
        return await task({ client, config });
      } catch (error) {
        if (signal?.aborted === true) throw error;
        lastError = error;
        const refused =
          error instanceof EngineError && (error.kind === 'unauthenticated' || error.kind === 'forbidden');
        if (error instanceof ConnectionError || (endpoint.mirror && !refused)) {
          if (this.preferred.get(target.registry) === endpoint.origin) this.preferred.delete(target.registry);
          continue;
        }
        throw error;
      }
    }
    throw lastError;
  }

  private ordered(registry: string, endpoints: RegistryEndpoint[]): RegistryEndpoint[] {
    const preferred = this.preferred.get(registry);
    const index = endpoints.findIndex((endpoint) => endpoint.origin === preferred && !endpoint.mirror);
    if (index <= 0) return endpoints;
    return [endpoints[index], ...endpoints.filter((_, at) => at !== index)];
  }

  /** Marks blobs as needed by a running pull; a failing pull does not remove a blob another one is using. */
  lease(digests: readonly Digest[]): () => Digest[] {
    for (const digest of digests) this.leases.set(digest, (this.leases.get(digest) ?? 0) + 1);
    return () => {
      const free: Digest[] = [];
      for (const digest of digests) {
        const count = (this.leases.get(digest) ?? 1) - 1;
        if (count <= 0) {
          this.leases.delete(digest);
          free.push(digest);
        } else this.leases.set(digest, count);
      }
      return free;
    };
  }

  close(): void {
    this.http.close();
  }
}
