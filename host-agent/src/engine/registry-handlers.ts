import type { EngineRequest, EngineRouter } from '../engine-api/engine-router.js';
import type { JsonLinesWriter } from '../engine-api/json-lines-writer.js';
import { progressError } from '../engine-api/json-lines-writer.js';
import { invalidArgument } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { EventBus } from '../events/event-bus.js';
import { hostPlatform } from '../images/image-config.js';
import { familiarString, parseReference, type ImageReference } from '../images/image-reference.js';
import { parsePlatform, type ImageService } from '../images/image-service.js';
import { isDigest } from '../snapshots/digest.js';
import { pullImage } from '../registry/image-puller.js';
import { pushImage, tagsToPush } from '../registry/image-pusher.js';
import type { ProgressMessage } from '../registry/progress-message.js';
import { repositoryScope } from '../registry/registry-auth.js';
import { parseLoginBody, parseRegistryAuthHeader } from '../registry/registry-credentials.js';
import { login } from '../registry/registry-login.js';
import { RegistryService, type RegistryServiceOptions } from '../registry/registry-service.js';
import { importImageHandler } from './image-handlers.js';

/**
 * `docker pull` (`POST /images/create?fromImage=`, which also serves `docker import` with
 * `fromSrc`), `docker push` (`POST /images/{name}/push`) and `docker login` (`POST /auth`).
 * Errors found before any progress (an unknown tag, refused credentials) are answered with
 * their status, as dockerd does; later ones end the progress stream with an error line.
 */
export function registerRegistryHandlers(
  router: EngineRouter,
  images: ImageService,
  events: EventBus,
  options: Omit<RegistryServiceOptions, 'images'> = {},
): RegistryService {
  const registry = new RegistryService({ ...options, images });
  const importImage = importImageHandler(images, events);

  router.handle('POST /images/create', async (request, reply) => {
    const fromImage = request.query.string('fromImage');
    if (!fromImage) {
      await importImage(request, reply);
      return;
    }
    const reference = pullReference(fromImage, request.query.string('tag'));
    const credentials = parseRegistryAuthHeader(request.header('x-registry-auth'));
    const platformText = request.query.string('platform');
    const platform = platformText ? parsePlatform(platformText) : hostPlatform();
    let writer: JsonLinesWriter | undefined;
    const progress = async (message: ProgressMessage): Promise<void> => {
      await writer?.write(message);
    };
    const start = (): void => {
      writer ??= reply.jsonLines();
    };
    const pullOne = async (target: ImageReference): Promise<void> => {
      await pullImage(registry, { reference: target, credentials, platform, signal: request.signal, progress }, start);
      const name = familiarString(target);
      events.publish({ type: 'image', action: 'pull', id: name, attributes: { name } });
    };
    try {
      if (reference.tag !== undefined || reference.digest !== undefined) {
        await pullOne(reference);
        return;
      }
      // No tag: every tag of the repository (`docker pull --all-tags`).
      const tags = await registry.withRegistry(
        {
          registry: reference.domain,
          repository: reference.path,
          credentials,
          scopes: [repositoryScope(reference.path, ['pull'])],
        },
        'pull',
        request.signal,
        ({ client }) => client.listTags(`the tags of ${familiarString(reference)}`),
      );
      for (const tag of tags) await pullOne({ ...reference, tag });
    } catch (error) {
      if (writer === undefined) throw error;
      await writer.write(progressError(errorMessage(error)));
    }
  });

  router.handle('POST /images/{name}/push', async (request, reply) => {
    const { repository, tag } = pushTarget(request);
    const credentials = parseRegistryAuthHeader(request.header('x-registry-auth'));
    const tags = tagsToPush(registry, repository, tag);
    const writer = reply.jsonLines();
    try {
      const pushed = await pushImage(
        registry,
        {
          repository,
          ...(tag === undefined ? {} : { tag }),
          credentials,
          signal: request.signal,
          progress: async (message) => {
            await writer.write(message);
          },
        },
        tags,
      );
      for (const item of pushed) {
        const name = familiarString({ ...repository, tag: item.tag });
        events.publish({ type: 'image', action: 'push', id: name, attributes: { name } });
      }
    } catch (error) {
      await writer.write(progressError(errorMessage(error)));
    }
  });

  router.handle('POST /auth', async (request, reply) => {
    const answer = await login(registry, parseLoginBody(await request.json()), request.signal);
    reply.json(200, answer);
  });

  return registry;
}

/** `fromImage` and `tag` as the CLI sends them: `tag` may be a tag or a digest. */
export function pullReference(fromImage: string, tag: string | undefined): ImageReference {
  const reference = parseReference(fromImage);
  if (tag === undefined || tag === '') return reference;
  const base = { domain: reference.domain, path: reference.path };
  if (tag.includes(':')) {
    if (!isDigest(tag)) throw invalidArgument(`invalid reference format: ${tag} is not a sha256 digest`);
    return { ...base, digest: tag };
  }
  return parseReference(`${reference.domain}/${reference.path}:${tag}`);
}

function pushTarget(request: EngineRequest<'POST /images/{name}/push'>): { repository: ImageReference; tag?: string } {
  const reference = parseReference(request.params.name);
  if (reference.digest !== undefined) throw invalidArgument('cannot push a digest reference: push a tag');
  const queryTag = request.query.string('tag') || undefined;
  const tag = queryTag ?? reference.tag;
  if (tag !== undefined) parseReference(`${reference.domain}/${reference.path}:${tag}`);
  return { repository: { domain: reference.domain, path: reference.path }, ...(tag === undefined ? {} : { tag }) };
}
