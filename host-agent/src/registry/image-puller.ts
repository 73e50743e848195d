/**
 * `docker pull`: finds the manifest for the reference (through an index for the wanted
 * platform), fetches the config, then downloads the layers the store lacks (a few at a time,
 * each once however many pulls need it) while unpacking them, and records the image with its
 * tag and repository digest only once everything is in and checked. Progress goes out as
 * dockerd's JSON messages, layer by layer as each lands. Whatever fails, or if the client goes
 * away, the store is left as before: staged layers and new blobs go.
 */
import { EngineError, invalidArgument, notFound } from '../engine-error.js';
import {
  parseImageConfig,
  parseIndex,
  parseJson,
  parseManifest,
  type ImageConfig,
  type ImageManifest,
} from '../images/image-config.js';
import type { Platform } from '../images/image-load-plan.js';
import { familiarName, familiarString, formatReference, type ImageReference } from '../images/image-reference.js';
import type { PulledLayer, ResolvedImage } from '../images/image-service.js';
import { chainIds, sha256Digest, shortId, type Digest } from '../snapshots/digest.js';
import { fetchLayer, type FetchedLayer } from './layer-fetch.js';
import {
  checkConfigMediaType,
  checkIndexEntry,
  classifyManifest,
  layerCompression,
  MANIFEST_ACCEPT,
  requireManifest,
} from './manifest-selection.js';
import {
  layerMessage,
  layerProgress,
  ProgressThrottle,
  statusMessage,
  type ProgressMessage,
} from './progress-message.js';
import { repositoryScope } from './registry-auth.js';
import type { RegistryClient } from './registry-client.js';
import type { RegistryCredentials } from './registry-credentials.js';
import { RegistryError } from './registry-error.js';
import { downloadBlob } from './blob-download.js';
import { sharedBlob } from './blob-transfers.js';
import type { PullHold } from './pull-holds.js';
import type { RegistryService } from './registry-service.js';
import { TaskLimiter } from './task-limiter.js';

/** Image configs over 16 MiB are refused (real ones are a few KiB, with long histories some 100 KiB). */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
const MAX_INDEX_DEPTH = 2;

export interface PullRequest {
  /** With a tag or a digest. */
  reference: ImageReference;
  credentials: RegistryCredentials;
  platform: Platform;
  signal?: AbortSignal;
  /** Sends one progress line; awaited, so a slow client slows the pull rather than filling memory. */
  progress: (message: ProgressMessage) => Promise<void>;
}

export interface PullResult {
  image: ResolvedImage;
  /** The digest the reference resolved to (an index's for a multi-platform image). */
  digest: Digest;
  upToDate: boolean;
}

interface ResolvedManifest {
  /** The digest of what the reference names. */
  digest: Digest;
  manifest: ImageManifest;
  /** Documents to keep: the index (if any) and the manifest, with their digests. */
  documents: { digest: Digest; bytes: Buffer }[];
}

/** Pulls the reference; `start` is called once the manifest is known, before any progress line. */
export function pullImage(
  service: RegistryService,
  request: PullRequest,
  start: () => void = () => undefined,
): Promise<PullResult> {
  return service.operation(request.signal, (signal) => pull(service, { ...request, signal }, start));
}

async function pull(service: RegistryService, request: PullRequest, start: () => void): Promise<PullResult> {
  const { reference } = request;
  const name = familiarString(reference);
  const resolved = await service
    .withRegistry(
      {
        registry: reference.domain,
        repository: reference.path,
        credentials: request.credentials,
        scopes: [repositoryScope(reference.path, ['pull'])],
      },
      'pull',
      request.signal,
      async ({ client }) => ({ client, manifest: await resolveManifest(client, reference, request.platform, name) }),
    )
    .catch((error: unknown) => {
      throw pullError(error, reference);
    });
  start();
  return new Pull(service, request, resolved.client, resolved.manifest).run();
}

/** dockerd's wording: a missing tag is "manifest unknown"; a refusal looks like a missing repository. */
function pullError(error: unknown, reference: ImageReference): unknown {
  if (!(error instanceof EngineError)) return error;
  const name = familiarName(reference);
  if (error instanceof RegistryError && error.has('MANIFEST_UNKNOWN')) {
    return notFound(`manifest for ${familiarString(reference)} not found: ${stripContext(error.message)}`);
  }
  if (
    error.kind === 'unauthenticated' ||
    error.kind === 'forbidden' ||
    (error instanceof RegistryError && (error.has('NAME_UNKNOWN') || error.has('DENIED')))
  ) {
    return notFound(
      `pull access denied for ${name}, repository does not exist or may require 'docker login': ${stripContext(error.message)}` +
        (error.kind === 'unauthenticated' ? `, run docker login ${reference.domain}` : ''),
    );
  }
  return error;
}

function stripContext(message: string): string {
  const colon = message.indexOf(': ');
  return colon === -1 ? message : message.slice(colon + 2);
}

async function resolveManifest(
  client: RegistryClient,
  reference: ImageReference,
  platform: Platform,
  name: string,
): Promise<ResolvedManifest> {
  const documents: ResolvedManifest['documents'] = [];
  let target = reference.digest ?? reference.tag ?? 'latest';
  let expected: Digest | undefined = reference.digest;
  let what = name;
  for (let depth = 0; ; depth += 1) {
    const fetched = await client.getManifest(target, MANIFEST_ACCEPT, `manifest for ${what}`);
    const digest = sha256Digest(fetched.bytes);
    if (expected !== undefined && digest !== expected) {
      throw invalidArgument(`digest mismatch for the manifest of ${what}: expected ${expected}, got ${digest}`);
    }
    if (
      expected === undefined &&
      fetched.digest !== undefined &&
      fetched.digest.startsWith('sha256:') &&
      fetched.digest !== digest
    ) {
      throw invalidArgument(
        `digest mismatch for the manifest of ${what}: the registry says ${fetched.digest}, the content is ${digest}`,
      );
    }
    documents.push({ digest, bytes: fetched.bytes });
    const document = parseJson(fetched.bytes, `the manifest of ${what}`);
    const { kind } = classifyManifest(document, fetched.contentType, `the manifest of ${what}`);
    if (kind === 'manifest') {
      const manifest = parseManifest(document, `the manifest of ${what}`);
      // Checked before any progress goes out, so a client gets a 400 rather than a broken stream.
      checkConfigMediaType(manifest.config, `the manifest of ${what}`);
      manifest.layers.forEach((layer, index) => layerCompression(layer, `layer ${index + 1} of ${what}`));
      return { digest: documents[0].digest, manifest, documents };
    }
    if (depth >= MAX_INDEX_DEPTH) throw invalidArgument(`${what}: image indexes are nested too deeply`);
    const index = parseIndex(document, `the manifest list of ${what}`);
    const entry = requireManifest(index.manifests, platform, name);
    checkIndexEntry(entry, `the manifest list of ${what}`);
    target = entry.digest;
    expected = entry.digest;
    what = `${name} (${entry.platform?.os ?? ''}/${entry.platform?.architecture ?? ''})`;
  }
}

class Pull {
  private readonly throttle = new ProgressThrottle();
  private readonly abort = new AbortController();
  private hold: PullHold | undefined;
  private readonly name: string;
  private anyDownloaded = false;

  constructor(
    private readonly service: RegistryService,
    private readonly request: PullRequest,
    private readonly client: RegistryClient,
    private readonly resolved: ResolvedManifest,
  ) {
    this.name = familiarString(request.reference);
    request.signal?.addEventListener('abort', () => this.abort.abort(request.signal?.reason), { once: true });
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  async run(): Promise<PullResult> {
    const { reference } = this.request;
    const { manifest } = this.resolved;
    const layerDigests = manifest.layers.map((layer) => layer.digest);
    // Held before anything is downloaded: a pull cut short elsewhere does not remove what this
    // one needs, and the blobs are on record should the agent die before the pull ends.
    const hold = await this.service.holds.hold([
      manifest.config.digest,
      ...layerDigests,
      ...this.resolved.documents.map((d) => d.digest),
    ]);
    this.hold = hold;
    const fetched: (FetchedLayer | undefined)[] = [];
    try {
      await this.say(statusMessage(`Pulling from ${reference.path}`, reference.digest ?? reference.tag ?? 'latest'));
      const config = await this.fetchConfig();
      if (config.os !== 'linux') {
        throw invalidArgument(`image operating system "${config.os}" cannot be used on this platform (${this.name})`);
      }
      const diffIds = config.rootfs.diff_ids;
      if (diffIds.length !== manifest.layers.length) {
        throw invalidArgument(
          `the manifest of ${this.name} has ${manifest.layers.length} layers but its config has ${diffIds.length} diff ids`,
        );
      }
      const chains = chainIds(diffIds);
      const present = await Promise.all(
        chains.map(async (chainId) => (await this.service.images.layers.get(chainId)) !== undefined),
      );
      for (const [index, layer] of manifest.layers.entries()) {
        await this.say(layerMessage(shortId(layer.digest), present[index] ? 'Already exists' : 'Pulling fs layer'));
      }
      const limiter = new TaskLimiter(this.service.downloads);
      const downloads = manifest.layers.map((layer, index) =>
        present[index]
          ? Promise.resolve(undefined)
          : limiter
              .run(
                () => this.fetchLayer(index, diffIds[index]),
                () => void this.say(layerMessage(shortId(layer.digest), 'Waiting')),
              )
              .then((result) => {
                fetched[index] = result;
                return result;
              }),
      );
      let firstError: unknown;
      const settled = await Promise.allSettled(
        downloads.map((download) =>
          download.catch((error: unknown) => {
            firstError ??= error;
            this.abort.abort(error);
            throw error;
          }),
        ),
      );
      if (settled.some((result) => result.status === 'rejected')) {
        throw this.request.signal?.aborted === true ? this.request.signal.reason : firstError;
      }

      const manifests: Digest[] = [];
      for (const document of this.resolved.documents) {
        const written = await this.service.images.content.write(document.bytes, { digest: document.digest });
        if (written.created) hold.added(document.digest);
        manifests.push(document.digest);
      }
      const before =
        reference.tag === undefined ? undefined : this.service.images.store.lookup(formatReference(reference));
      const layers: PulledLayer[] = chains.map((chainId, index) => {
        const layer = fetched[index];
        return layer === undefined ? { chainId } : { chainId, staged: layer.staged, blob: layer.blob };
      });
      // Each layer said "Pull complete" when it was unpacked and checked; committing the staged
      // layers with the image, all at once, is what keeps a failed pull from leaving any.
      const image = await this.service.images.addPulledImage({
        config: manifest.config.digest,
        layers,
        manifests,
        references: [
          ...(reference.tag !== undefined && reference.digest === undefined ? [reference] : []),
          { domain: reference.domain, path: reference.path, digest: this.resolved.digest },
        ],
      });
      fetched.length = 0;
      await this.service.blobSources.record(layerDigests, reference.domain, reference.path).catch(() => undefined);
      const upToDate = before === image.id && !this.anyDownloaded;
      await this.say(statusMessage(`Digest: ${this.resolved.digest}`));
      await this.say(
        statusMessage(`Status: ${upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${this.name}`),
      );
      await hold.release(false).catch(() => undefined);
      return { image, digest: this.resolved.digest, upToDate };
    } catch (error) {
      this.abort.abort(error);
      for (const layer of fetched) if (layer !== undefined) await this.service.images.layers.discard(layer.staged);
      await hold.release(true).catch(() => undefined);
      throw error;
    }
  }

  private async say(message: ProgressMessage): Promise<void> {
    if (this.request.signal?.aborted === true) return;
    await this.request.progress(message);
  }

  private async fetchConfig(): Promise<ImageConfig> {
    const { config: descriptor } = this.resolved.manifest;
    const what = `the config of ${this.name}`;
    if (descriptor.size > MAX_CONFIG_BYTES) {
      throw invalidArgument(`${what} is too large: ${descriptor.size} bytes, the limit is ${MAX_CONFIG_BYTES}`);
    }
    const content = this.service.images.content;
    const read = async (): Promise<ImageConfig> => parseImageConfig(await content.readJson(descriptor.digest), what);
    return sharedBlob({
      transfers: this.service.transfers,
      digest: descriptor.digest,
      stored: async () => (await content.size(descriptor.digest)) === descriptor.size,
      signal: this.signal,
      local: read,
      download: async (transfer) => {
        const written = await content.write(
          downloadBlob({
            client: this.client,
            digest: descriptor.digest,
            size: descriptor.size,
            what,
            signal: this.signal,
            onProgress: (received) => transfer.progress(received),
          }),
          { digest: descriptor.digest, size: descriptor.size, what },
        );
        transfer.settle();
        if (written.created) this.hold?.added(descriptor.digest);
        return read();
      },
    });
  }

  /**
   * Downloads and unpacks one layer, telling the client as dockerd does: "Downloading" bars,
   * "Verifying Checksum", "Download complete", "Extracting" bars while the unpacking catches up,
   * and "Pull complete" once the layer is unpacked and its diff id checked.
   */
  private async fetchLayer(index: number, diffId: Digest): Promise<FetchedLayer> {
    const descriptor = this.resolved.manifest.layers[index];
    const id = shortId(descriptor.digest);
    const what = `layer ${index + 1} of ${this.name}`;
    this.signal.throwIfAborted();
    this.anyDownloaded = true;
    let downloaded = false;
    let consumed = 0;
    let extracting = -1;
    const extracted = (current: number): void => {
      if (current <= extracting) return;
      extracting = current;
      void this.say(layerProgress(id, 'Extracting', current, descriptor.size));
    };
    const layer = await fetchLayer({
      client: this.client,
      content: this.service.images.content,
      layers: this.service.images.layers,
      transfers: this.service.transfers,
      blob: { digest: descriptor.digest, size: descriptor.size },
      diffId,
      what,
      limits: this.service.limits,
      signal: this.signal,
      onProgress: (received) => {
        if (!downloaded && this.throttle.due(id, received, descriptor.size)) {
          void this.say(layerProgress(id, 'Downloading', received, descriptor.size));
        }
      },
      onDownloaded: () => {
        downloaded = true;
        void this.say(layerMessage(id, 'Verifying Checksum'));
        void this.say(layerMessage(id, 'Download complete'));
        if (consumed > 0) extracted(consumed);
      },
      onExtracting: (bytes) => {
        consumed = bytes;
        if (downloaded && this.throttle.due(`${id} extracting`, bytes, descriptor.size)) extracted(bytes);
      },
      onBlobCreated: (digest) => this.hold?.added(digest),
    });
    // The tar may end before the blob does (padding): the bar still ends full.
    extracted(descriptor.size);
    void this.say(layerMessage(id, 'Pull complete'));
    return layer;
  }
}
