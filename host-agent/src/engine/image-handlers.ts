import { pipeline } from 'node:stream/promises';
import type { EngineHandler, EngineRouter } from '../engine-api/engine-router.js';
import { invalidArgument } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { EventBus } from '../events/event-bus.js';
import type { ImageService } from '../images/image-service.js';

/**
 * `docker images`, `image inspect`, `history`, `tag`, `rmi`, `load`, `save`, `image prune`.
 * `POST /images/create` (pull or import) is registered by registry-handlers.ts, which hands an
 * import to `importImageHandler`.
 */
export function registerImageHandlers(router: EngineRouter, images: ImageService, events: EventBus): void {
  router.handle('GET /images/json', async (request, reply) => {
    reply.json(
      200,
      await images.list({
        all: request.query.bool('all'),
        filters: request.query.string('filters'),
        sharedSize: request.query.bool('shared-size'),
      }),
    );
  });

  router.handle('GET /images/{name}/json', (request, reply) => {
    reply.json(200, images.inspect(request.params.name));
  });

  router.handle('GET /images/{name}/history', async (request, reply) => {
    reply.json(200, await images.history(request.params.name));
  });

  router.handle('POST /images/{name}/tag', async (request, reply) => {
    const repository = request.query.string('repo');
    if (!repository) throw invalidArgument('repo is required: name the repository to tag the image as');
    const id = images.resolve(request.params.name).id;
    const tagged = await images.tag(request.params.name, repository, request.query.string('tag') || undefined);
    events.publish({ type: 'image', action: 'tag', id, attributes: { name: tagged } });
    reply.empty(201);
  });

  router.handle('DELETE /images/{name}', async (request, reply) => {
    const removed = await images.remove(request.params.name, {
      force: request.query.bool('force'),
      noprune: request.query.bool('noprune'),
    });
    for (const item of removed) {
      if (item.Untagged)
        events.publish({ type: 'image', action: 'untag', id: item.Untagged, attributes: { name: item.Untagged } });
      if (item.Deleted)
        events.publish({ type: 'image', action: 'delete', id: item.Deleted, attributes: { name: item.Deleted } });
    }
    reply.json(200, removed);
  });

  router.handle('POST /images/prune', async (request, reply) => {
    const pruned = await images.prune(request.query.string('filters'));
    events.publish({
      type: 'image',
      action: 'prune',
      id: '',
      attributes: { reclaimed: String(pruned.SpaceReclaimed) },
    });
    reply.json(200, pruned);
  });

  router.handle('POST /images/load', async (request, reply) => {
    // The answer streams, so an error after the first line is reported in the stream as dockerd does.
    // `quiet` (the CLI sets it when its output is not a terminal) drops progress bars only; the
    // "Loaded image" lines are the result and always go out.
    const writer = reply.jsonLines();
    try {
      const result = await images.load(request.body, {
        onProgress: (line) => writer.offer({ stream: `${line}\n` }),
      });
      for (const image of result.images) {
        events.publish({
          type: 'image',
          action: 'load',
          id: image.id,
          attributes: { name: image.tags[0] ?? image.id },
        });
      }
    } catch (error) {
      writer.offer({ errorDetail: { message: errorMessage(error) }, error: errorMessage(error) });
    }
  });

  router.handle('GET /images/get', async (request, reply) => {
    const names = request.query.strings('names');
    if (names.length === 0) throw invalidArgument('names is required: give the images to save');
    const archive = await images.save(names);
    await pipeline(archive, reply.stream(200, 'application/x-tar'));
  });

  router.handle('GET /images/{name}/get', async (request, reply) => {
    const archive = await images.save([request.params.name]);
    await pipeline(archive, reply.stream(200, 'application/x-tar'));
  });
}

/** `docker import` (`POST /images/create?fromSrc=-`): the body is a root filesystem tar. */
export function importImageHandler(images: ImageService, events: EventBus): EngineHandler<'POST /images/create'> {
  return async (request, reply) => {
    const fromSrc = request.query.string('fromSrc');
    if (fromSrc !== '-')
      throw invalidArgument('fromSrc must be "-": import reads the rootfs tar from the request body');
    const writer = reply.jsonLines();
    try {
      const imported = await images.importImage(request.body, {
        repository: request.query.string('repo') || undefined,
        tag: request.query.string('tag') || undefined,
        changes: request.query.strings('changes'),
        message: request.query.string('message') || undefined,
        platform: request.query.string('platform') || undefined,
      });
      events.publish({
        type: 'image',
        action: 'import',
        id: imported.id,
        attributes: { name: imported.tags[0] ?? imported.id },
      });
      writer.offer({ status: imported.id });
    } catch (error) {
      writer.offer({ errorDetail: { message: errorMessage(error) }, error: errorMessage(error) });
    }
  };
}
