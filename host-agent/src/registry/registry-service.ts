/**
 * What pull, push and login share: the HTTP agents, the registry settings (read afresh for each
 * operation), which endpoint of a registry answered last time, the blob-source hints for
 * cross-repository mounts, the blobs in-flight pulls hold and the downloads they share. Closing
 * it cancels what runs, lets it clean up, and closes the connections.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { EngineError, unavailable } from '../engine-error.js';
import type { ImageService } from '../images/image-service.js';
import { BlobSources } from './blob-sources.js';
import { BlobTransfers } from './blob-transfers.js';
import { DEFAULT_EXPANSION_LIMITS, type ExpansionLimits } from './expansion-guard.js';
import { RegistryClient } from './registry-client.js';
import { isInsecureRegistry, loadRegistryConfig, type RegistryConfig } from './registry-config.js';
import type { RegistryCredentials } from './registry-credentials.js';
import { resolveEndpoints, type EndpointPurpose, type RegistryEndpoint } from './registry-endpoint.js';
import { PullHolds } from './pull-holds.js';
import { ConnectionError, RegistryHttp } from './registry-http.js';

/** How long closing waits for cancelled operations to clean up before the connections go. */
const CLOSE_GRACE_MS = 5000;

export interface RegistryServiceOptions {
  images: ImageService;
  /** The settings file (`registries.json`); absent means the defaults. */
  configPath?: string;
  /** Where the blob-source hints and the files of running pulls are kept (default `<image root>/registry`). */
  stateDirectory?: string;
  /** How long the blobs a killed pull left stay for a pull run again (default 24 h). */
  keepLeftoversForMs?: number;
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
  readonly holds: PullHolds;
  readonly transfers = new BlobTransfers();
  private readonly preferred = new Map<string, string>();
  private readonly closing = new AbortController();
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly options: RegistryServiceOptions) {
    this.images = options.images;
    const stateDirectory = options.stateDirectory ?? join(options.images.content.root, 'registry');
    this.blobSources = new BlobSources(join(stateDirectory, 'blob-sources.json'));
    this.limits = options.limits ?? DEFAULT_EXPANSION_LIMITS;
    this.downloads = options.downloads ?? 3;
    this.uploads = options.uploads ?? 5;
    this.holds = new PullHolds({
      directory: join(stateDirectory, 'pulls'),
      discardBlobs: (digests) => options.images.discardBlobs(digests),
      ...(options.keepLeftoversForMs === undefined ? {} : { keepForMs: options.keepLeftoversForMs }),
    });
    // Left to run on its own: pulls wait for it (PullHolds.hold), nothing else needs it. Should it
    // fail, what dead pulls left stays until the next start.
    void this.holds.open().catch(() => undefined);
  }

  /**
   * Runs a pull, push or login: cancelled when `signal` aborts or the service closes, which
   * waits for it to clean up.
   */
  async operation<T>(signal: AbortSignal | undefined, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closing.signal.aborted) throw unavailable('the engine is shutting down');
    const combined = signal === undefined ? this.closing.signal : AbortSignal.any([signal, this.closing.signal]);
    const running = task(combined);
    this.running.add(running);
    try {
      return await running;
    } finally {
      this.running.delete(running);
    }
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
    return this.operation(signal, (combined) => this.tryEndpoints(target, purpose, combined, task));
  }

  private async tryEndpoints<T>(
    target: { registry: string; repository: string; credentials: RegistryCredentials; scopes: readonly string[] },
    purpose: EndpointPurpose,
    signal: AbortSignal,
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
        signal,
      });
      try {
        await client.ping();
        this.preferred.set(target.registry, endpoint.origin);
        return await task({ client, config });
      } catch (error) {
        if (signal.aborted) throw error;
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

  /**
   * Cancels the pulls and pushes that run, waits a little for them to clean up (staged layers,
   * blobs of failed pulls), and closes every connection to registries, so the agent can exit.
   */
  async close(): Promise<void> {
    this.closing.abort(unavailable('the engine is shutting down'));
    await Promise.race([Promise.allSettled([...this.running]), sleep(CLOSE_GRACE_MS, undefined, { ref: false })]);
    await this.holds.close();
    this.http.close();
  }
}
