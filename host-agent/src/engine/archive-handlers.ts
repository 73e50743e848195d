import { pipeline } from 'node:stream/promises';
import type { EngineRouter } from '../engine-api/engine-router.js';
import { ContainerArchive, encodePathStat } from '../containers/container-archive.js';
import type { ContainerService } from '../containers/container-service.js';
import type { ImageService } from '../images/image-service.js';
import { LibcSysCalls } from '../sys/libc-sys-calls.js';

const PATH_STAT_HEADER = 'X-Docker-Container-Path-Stat';

/** `docker cp`: the archive routes of the Engine API. */
export function registerArchiveHandlers(
  router: EngineRouter,
  containers: Pick<ContainerService, 'get'>,
  // The engine registers every group with its services; copies need no image.
  _images?: ImageService,
  archive = new ContainerArchive({ sys: new LibcSysCalls() }),
): void {
  router.handle('HEAD /containers/{id}/archive', async (request, reply) => {
    const stat = await archive.stat(containers.get(request.params.id), request.query.string('path') ?? '');
    reply.setHeader(PATH_STAT_HEADER, encodePathStat(stat));
    reply.empty(200);
  });

  router.handle('GET /containers/{id}/archive', async (request, reply) => {
    const { stat, archive: tar } = await archive.get(
      containers.get(request.params.id),
      request.query.string('path') ?? '',
    );
    reply.setHeader(PATH_STAT_HEADER, encodePathStat(stat));
    await pipeline(tar, reply.stream(200, 'application/x-tar'));
  });

  router.handle('PUT /containers/{id}/archive', async (request, reply) => {
    // The docker CLI sends the tar as text/plain; the content type says nothing here.
    await archive.put(containers.get(request.params.id), request.query.string('path') ?? '', request.body, {
      noOverwriteDirNonDir: request.query.bool('noOverwriteDirNonDir'),
      copyUIDGID: request.query.bool('copyUIDGID'),
    });
    reply.empty(200);
  });
}
