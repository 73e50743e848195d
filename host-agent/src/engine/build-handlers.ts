import { join } from 'node:path';

import { ImageBuilder, RunFailedError, type BuildContainers } from '../build/image-builder.js';
import type { EngineRequest, EngineRouter } from '../engine-api/engine-router.js';
import type { JsonLinesWriter } from '../engine-api/json-lines-writer.js';
import { invalidArgument, notFound } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { EventBus } from '../events/event-bus.js';
import { hostPlatform } from '../images/image-config.js';
import { DEFAULT_DOMAIN, familiarString, parseReference, withDefaultTag } from '../images/image-reference.js';
import type { ImageService, ResolvedImage } from '../images/image-service.js';
import { pullImage } from '../registry/image-puller.js';
import { ANONYMOUS, parseRegistryAuthHeader, type RegistryCredentials } from '../registry/registry-credentials.js';
import type { RegistryService } from '../registry/registry-service.js';
import type { SysCalls } from '../sys/sys-calls.js';
import type { IdMap } from '../userns/id-map.js';

export interface BuildHandlerOptions {
  images: ImageService;
  containers: BuildContainers;
  events: EventBus;
  sys: SysCalls;
  /** The engine's storage root; the builder keeps its cache and work in `<root>/build`. */
  root: string;
  /** The engine's registry service (the one `docker pull` uses), for pulling missing base images. */
  registry?: RegistryService;
  ids?: IdMap;
}

/**
 * `docker build` with the classic builder (`POST /build`, the context tar as the body, a JSON
 * stream of `{"stream"}` lines back) and `docker builder prune` (`POST /build/prune`). Errors
 * found before the first line of output are answered with their status; later ones end the
 * stream with an `errorDetail` line, whose code the CLI exits with (a failed RUN's exit code).
 */
export async function registerBuildHandlers(router: EngineRouter, options: BuildHandlerOptions): Promise<ImageBuilder> {
  const builder = await ImageBuilder.open({
    images: options.images,
    containers: options.containers,
    sys: options.sys,
    directory: join(options.root, 'build'),
    ...(options.ids ? { ids: options.ids } : {}),
  });

  const registry = options.registry;

  router.handle('POST /build', async (request, reply) => {
    const buildRequest = parseBuildQuery(request);
    const authConfigs = parseRegistryConfigHeader(request.header('x-registry-config'));
    const pull = async (name: string, progress: (message: object) => Promise<void>): Promise<ResolvedImage> => {
      if (registry === undefined) throw notFound(`No such image: ${name}`);
      const reference = withDefaultTag(parseReference(name));
      const result = await pullImage(registry, {
        reference,
        credentials: credentialsFor(authConfigs, reference.domain),
        platform: hostPlatform(),
        signal: request.signal,
        progress,
      });
      const pulled = familiarString(reference);
      options.events.publish({ type: 'image', action: 'pull', id: pulled, attributes: { name: pulled } });
      return result.image;
    };
    let writer: JsonLinesWriter | undefined;
    try {
      const result = await builder.build(
        request.body,
        { ...buildRequest, pull, signal: request.signal },
        async (message) => {
          writer ??= reply.jsonLines();
          await writer.write(message);
        },
      );
      for (const name of result.tags) {
        options.events.publish({ type: 'image', action: 'tag', id: result.id, attributes: { name } });
      }
    } catch (error) {
      if (writer === undefined) throw error;
      const message = errorMessage(error);
      await writer.write({
        errorDetail: { message, ...(error instanceof RunFailedError ? { code: error.exitCode } : {}) },
        error: message,
      });
    }
  });

  router.handle('POST /build/prune', async (_request, reply) => {
    reply.json(200, await builder.prune());
  });

  return builder;
}

type BuildQuery = Omit<Parameters<ImageBuilder['build']>[1], 'signal'>;

function parseBuildQuery(request: EngineRequest<'POST /build'>): BuildQuery {
  const { query } = request;
  const version = query.string('version');
  if (version === '2') {
    throw invalidArgument('BuildKit builds are not supported by this engine: build with DOCKER_BUILDKIT=0');
  }
  const remote = query.string('remote');
  if (remote)
    throw invalidArgument(`a remote build context (${remote}) is not supported: send the context as the body`);
  const platform = query.string('platform');
  if (platform) {
    const host = hostPlatform();
    if (platform !== host.os && platform !== `${host.os}/${host.architecture}`) {
      throw invalidArgument(
        `platform ${platform} is not supported: this engine builds for ${host.os}/${host.architecture}`,
      );
    }
  }
  const tags = query.strings('t').filter((tag) => tag !== '');
  for (const tag of tags) {
    const reference = parseReference(tag);
    if (reference.digest !== undefined)
      throw invalidArgument(`invalid tag ${tag}: a build cannot be tagged with a digest`);
  }
  const buildArgs = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(jsonObject(query.string('buildargs'), 'buildargs'))) {
    if (value !== null && typeof value !== 'string')
      throw invalidArgument(`buildargs: the value of ${name} is not a string`);
    buildArgs.set(name, value ?? undefined);
  }
  const labels: Record<string, string> = {};
  for (const [name, value] of Object.entries(jsonObject(query.string('labels'), 'labels'))) {
    if (typeof value !== 'string') throw invalidArgument(`labels: the value of ${name} is not a string`);
    labels[name] = value;
  }
  // The limits `docker build` passes for its RUN containers; 0 or absent means none.
  const runHostConfig: Record<string, unknown> = {};
  const limits = [
    ['memory', 'Memory'],
    ['memswap', 'MemorySwap'],
    ['cpushares', 'CpuShares'],
    ['cpuperiod', 'CpuPeriod'],
    ['cpuquota', 'CpuQuota'],
    ['shmsize', 'ShmSize'],
  ] as const;
  for (const [name, field] of limits) {
    const value = query.int(name);
    if (value !== undefined && value !== 0) runHostConfig[field] = value;
  }
  for (const [name, field] of [
    ['cpusetcpus', 'CpusetCpus'],
    ['cpusetmems', 'CpusetMems'],
  ] as const) {
    const value = query.string(name);
    if (value) runHostConfig[field] = value;
  }
  const dockerfile = query.string('dockerfile');
  const target = query.string('target');
  const networkMode = query.string('networkmode');
  return {
    ...(dockerfile ? { dockerfile } : {}),
    tags,
    buildArgs,
    labels,
    ...(target ? { target } : {}),
    noCache: query.bool('nocache'),
    alwaysPull: query.bool('pull'),
    quiet: query.bool('q'),
    ...(networkMode && networkMode !== 'default' ? { networkMode } : {}),
    ...(Object.keys(runHostConfig).length > 0 ? { runHostConfig } : {}),
  };
}

/**
 * `X-Registry-Config`: base64 JSON of the CLI's credentials by registry (`{"127.0.0.1:5000":
 * {"username": …}}`; Docker Hub as `https://index.docker.io/v1/`); `e30=` when it has none.
 */
export function parseRegistryConfigHeader(value: string | undefined): Map<string, unknown> {
  const configs = new Map<string, unknown>();
  const trimmed = value?.trim() ?? '';
  if (trimmed === '') return configs;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(trimmed, 'base64').toString('utf8'));
  } catch {
    throw invalidArgument('invalid X-Registry-Config header: it is not base64-encoded JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidArgument('invalid X-Registry-Config header: expected a JSON object of registries');
  }
  for (const [key, config] of Object.entries(parsed)) {
    const host = key
      .replace(/^[a-z]+:\/\//i, '')
      .replace(/\/.*$/, '')
      .toLowerCase();
    configs.set(host === 'index.docker.io' || host === 'registry-1.docker.io' ? DEFAULT_DOMAIN : host, config);
  }
  return configs;
}

export function credentialsFor(configs: ReadonlyMap<string, unknown>, domain: string): RegistryCredentials {
  const config = configs.get(domain.toLowerCase());
  if (config === undefined) return ANONYMOUS;
  return parseRegistryAuthHeader(Buffer.from(JSON.stringify(config)).toString('base64'));
}

function jsonObject(text: string | undefined, name: string): Record<string, unknown> {
  if (text === undefined || text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidArgument(`${name} is not valid JSON: ${text}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`${name} must be a JSON object of names and values`);
  }
  return value as Record<string, unknown>;
}
