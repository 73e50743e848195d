import type { EventBus } from '../events/event-bus.js';
import { parseEventFilters } from '../events/event-filter.js';
import { parseEventTime, streamEvents } from '../events/event-stream.js';
import type { Logger } from '../logger.js';
import { API_VERSION } from './api-version.js';
import type { EngineReply, EngineRouter } from './engine-router.js';
import type { SystemInfo } from './system-info.js';

export interface SystemHandlerDependencies {
  system: SystemInfo;
  events: EventBus;
  logger: Logger;
}

/**
 * `/_ping`, `/version`, `/info`, `/system/df` and `/events`: what every client asks first, and
 * what the engine can answer before containers exist.
 */
export function registerSystemHandlers(
  router: EngineRouter,
  { system, events, logger }: SystemHandlerDependencies,
): void {
  const ping = (reply: EngineReply) => {
    // The 28.x CLI negotiates from this header alone (HEAD /_ping), and compose from /version.
    reply.setHeader('Api-Version', API_VERSION);
    reply.setHeader('Docker-Experimental', 'false');
    // The classic builder is the one Skiff implements; BuildKit's /session and /grpc are not served.
    reply.setHeader('Builder-Version', '1');
    reply.setHeader('Swarm', 'inactive');
    reply.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    reply.setHeader('Pragma', 'no-cache');
    reply.text(200, 'OK');
  };
  router.handle('GET /_ping', (_request, reply) => ping(reply));
  router.handle('HEAD /_ping', (_request, reply) => ping(reply));

  router.handle('GET /version', async (_request, reply) => {
    reply.json(200, await system.version());
  });

  router.handle('GET /info', async (_request, reply) => {
    reply.json(200, { ...(await system.info()), NEventsListener: events.subscriberCount });
  });

  router.handle('GET /system/df', async (_request, reply) => {
    reply.json(200, await system.diskUsage());
  });

  router.handle('GET /events', async (request, reply) => {
    // Everything is checked before the 200 goes out, so a bad filter is a plain 400.
    const filters = parseEventFilters(request.query.string('filters'));
    const since = parseEventTime('since', request.query.string('since'));
    const until = parseEventTime('until', request.query.string('until'));
    const writer = reply.jsonLines();
    const ended = await streamEvents(
      events,
      {
        offer: (event) => writer.offer(event),
        get closed() {
          return writer.closed;
        },
      },
      { since, until, filters, signal: request.signal },
    );
    if (ended === 'slow-reader') {
      logger.warn(`events: a reader fell ${writer.backlogBytes} bytes behind and was disconnected`);
      writer.abort();
    }
  });
}
