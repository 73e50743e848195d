/**
 * The distribution API of one repository on one registry endpoint, authenticated: manifests,
 * blobs, uploads (with cross-repository mounts and chunked PATCHes), tags. Every request that
 * meets a 401 learns the challenge and is sent once more with credentials or a token.
 */
import type { Readable } from 'node:stream';

import { invalidArgument } from '../engine-error.js';
import type { Digest } from '../snapshots/digest.js';
import { RegistryAuth } from './registry-auth.js';
import type { RegistryCredentials } from './registry-credentials.js';
import type { RegistryEndpoint } from './registry-endpoint.js';
import { registryError } from './registry-error.js';
import { discard, header, readBody, type HttpMethod, type HttpResponse, type RegistryHttp } from './registry-http.js';

export interface ClientOptions {
  http: RegistryHttp;
  endpoint: RegistryEndpoint;
  /** The repository path inside the registry: `library/busybox`. */
  repository: string;
  credentials: RegistryCredentials;
  /** The scopes requests need unless told otherwise: `repository:<path>:pull[,push]`. */
  scopes: readonly string[];
  isInsecure: (hostAndPort: string) => Promise<boolean>;
  signal?: AbortSignal;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A Buffer, or a function making a fresh stream (a body that may need sending twice). */
  body?: Buffer | (() => Readable);
  scopes?: readonly string[];
  redirects?: number;
}

/** Manifests over 4 MiB are refused, as containerd and dockerd do. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface FetchedManifest {
  bytes: Buffer;
  contentType: string | undefined;
  /** Docker-Content-Digest, when the registry sends it. */
  digest: string | undefined;
}

export class RegistryClient {
  readonly auth: RegistryAuth;

  constructor(private readonly options: ClientOptions) {
    this.auth = new RegistryAuth({
      http: options.http,
      credentials: options.credentials,
      registry: options.endpoint.registry,
      isInsecure: options.isInsecure,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  get endpoint(): RegistryEndpoint {
    return this.options.endpoint;
  }

  get repository(): string {
    return this.options.repository;
  }

  url(path: string): URL {
    return new URL(path, this.options.endpoint.origin);
  }

  async request(method: HttpMethod, target: string | URL, options: RequestOptions = {}): Promise<HttpResponse> {
    const url = typeof target === 'string' ? this.url(target) : target;
    const scopes = options.scopes ?? this.options.scopes;
    const sameOrigin = url.origin === this.options.endpoint.origin;
    for (let attempt = 0; ; attempt += 1) {
      const authorization = sameOrigin ? await this.auth.authorization(scopes) : undefined;
      const body = typeof options.body === 'function' ? options.body() : options.body;
      const response = await this.options.http.send({
        method,
        url,
        headers: { ...options.headers, ...(authorization ? { Authorization: authorization } : {}) },
        ...(body === undefined ? {} : { body }),
        skipTlsVerify: this.options.endpoint.skipTlsVerify,
        ...(this.options.signal ? { signal: this.options.signal } : {}),
        ...(options.redirects === undefined ? {} : { redirects: options.redirects }),
      });
      if (
        response.status === 401 &&
        attempt === 0 &&
        sameOrigin &&
        this.auth.challenged(response, scopes, authorization)
      ) {
        discard(response);
        continue;
      }
      return response;
    }
  }

  /** `GET /v2/`: whether the endpoint answers as a registry, and how it wants to be authenticated. */
  async ping(): Promise<HttpResponse> {
    const response = await this.request('GET', '/v2/', { scopes: [] });
    discard(response);
    return response;
  }

  async getManifest(reference: string, accept: readonly string[], context: string): Promise<FetchedManifest> {
    const response = await this.request('GET', `/v2/${this.repository}/manifests/${reference}`, {
      headers: { Accept: accept.join(', ') },
    });
    if (response.status !== 200) throw await registryError(response, context);
    const bytes = await readBody(response, MAX_MANIFEST_BYTES, `the manifest of ${context}`);
    return { bytes, contentType: header(response, 'content-type'), digest: header(response, 'docker-content-digest') };
  }

  /** `GET` of a blob from `offset` on; the caller reads and checks the body. */
  async getBlob(digest: Digest, offset: number): Promise<HttpResponse> {
    return this.request('GET', `/v2/${this.repository}/blobs/${digest}`, {
      headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
      redirects: 5,
    });
  }

  /** Whether the repository has the blob (`HEAD`). */
  async hasBlob(digest: Digest, context: string): Promise<boolean> {
    const response = await this.request('HEAD', `/v2/${this.repository}/blobs/${digest}`, { redirects: 5 });
    discard(response);
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw await registryError(response, context);
  }

  /**
   * Starts an upload; with `mountFrom`, first asks the registry to link the blob from another
   * repository it has it in (201: done, nothing to upload).
   */
  async startUpload(
    context: string,
    mount?: { digest: Digest; from: string },
  ): Promise<{ mounted: true } | { mounted: false; location: URL }> {
    const path = `/v2/${this.repository}/blobs/uploads/`;
    const target = this.url(path);
    let scopes = this.options.scopes;
    if (mount !== undefined) {
      target.searchParams.set('mount', mount.digest);
      target.searchParams.set('from', mount.from);
      scopes = [...scopes, `repository:${mount.from}:pull`];
    }
    const response = await this.request('POST', target, { scopes });
    discard(response);
    if (response.status === 201 && mount !== undefined) return { mounted: true };
    if (response.status !== 202) throw await registryError(response, context);
    return { mounted: false, location: this.location(response, context) };
  }

  /** One chunk of an upload; returns where the next one goes. */
  async uploadChunk(location: URL, body: () => Readable, start: number, length: number, context: string): Promise<URL> {
    const response = await this.request('PATCH', location, {
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(length),
        'Content-Range': `${start}-${start + length - 1}`,
      },
      body,
    });
    discard(response);
    if (response.status !== 202) throw await registryError(response, context);
    return this.location(response, context);
  }

  /** Ends an upload: the registry checks the digest of what it received. */
  async finishUpload(location: URL, digest: Digest, context: string, body?: Buffer): Promise<void> {
    const target = new URL(location);
    target.searchParams.set('digest', digest);
    const response = await this.request('PUT', target, {
      headers: { 'Content-Type': 'application/octet-stream' },
      ...(body === undefined ? {} : { body }),
    });
    discard(response);
    if (response.status !== 201 && response.status !== 204) throw await registryError(response, context);
  }

  /** Where the registry can be asked how much of an upload it has. */
  async uploadedBytes(location: URL, context: string): Promise<number> {
    const response = await this.request('GET', location);
    discard(response);
    if (response.status !== 204 && response.status !== 200) throw await registryError(response, context);
    const range = /^(?:bytes=)?0-(\d+)$/.exec(header(response, 'range') ?? '');
    return range === null ? 0 : Number(range[1]) + 1;
  }

  async putManifest(reference: string, mediaType: string, bytes: Buffer, context: string): Promise<string | undefined> {
    const response = await this.request('PUT', `/v2/${this.repository}/manifests/${reference}`, {
      headers: { 'Content-Type': mediaType },
      body: bytes,
    });
    discard(response);
    if (response.status !== 201 && response.status !== 200) throw await registryError(response, context);
    return header(response, 'docker-content-digest');
  }

  /** Every tag of the repository, following `Link` pages (at most 100 pages). */
  async listTags(context: string): Promise<string[]> {
    const tags: string[] = [];
    let target: URL | undefined = this.url(`/v2/${this.repository}/tags/list?n=1000`);
    for (let page = 0; target !== undefined && page < 100; page += 1) {
      const response = await this.request('GET', target);
      if (response.status !== 200) throw await registryError(response, context);
      const body = JSON.parse(
        (await readBody(response, MAX_MANIFEST_BYTES, `the tag list of ${context}`)).toString(),
      ) as {
        tags?: unknown;
      };
      if (Array.isArray(body.tags)) tags.push(...body.tags.filter((tag): tag is string => typeof tag === 'string'));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(response, 'link') ?? '');
      target = link?.[1] === undefined ? undefined : new URL(link[1], target);
    }
    return tags;
  }

  private location(response: HttpResponse, context: string): URL {
    const value = header(response, 'location');
    if (value === undefined || value === '') throw invalidArgument(`${context}: the registry gave no upload location`);
    const url = new URL(value, this.options.endpoint.origin);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalidArgument(`${context}: the registry gave an upload location that is not http(s)`);
    }
    return url;
  }
}
