import type { EngineFilters } from '../engine-api/engine-filters.js';
import type { EngineRouter } from '../engine-api/engine-router.js';
import { invalidArgument } from '../engine-error.js';
import type { EventBus } from '../events/event-bus.js';
import type { VolumeStore } from '../volumes/volume-store.js';

/** `docker volume …`: create, ls, inspect, rm, prune. */
export function registerVolumeHandlers(router: EngineRouter, volumes: VolumeStore, events: EventBus): void {
  router.handle('GET /volumes', async (request, reply) => {
    reply.json(200, await volumes.list(asRecord(request.query.filters())));
  });

  router.handle('POST /volumes/create', async (request, reply) => {
    const body = objectBody(await request.json());
    const volume = await volumes.create({
      name: optionalString(body.Name, 'Name'),
      driver: optionalString(body.Driver, 'Driver'),
      driverOpts: stringMap(body.DriverOpts, 'DriverOpts'),
      labels: stringMap(body.Labels, 'Labels'),
    });
    events.publish({ type: 'volume', action: 'create', id: volume.Name, attributes: { driver: volume.Driver } });
    reply.json(201, volume);
  });

  router.handle('GET /volumes/{name}', async (request, reply) => {
    reply.json(200, await volumes.inspect(request.params.name));
  });

  router.handle('DELETE /volumes/{name}', async (request, reply) => {
    await volumes.remove(request.params.name, { force: request.query.bool('force') });
    events.publish({ type: 'volume', action: 'destroy', id: request.params.name, attributes: { driver: 'local' } });
    reply.empty(204);
  });

  router.handle('POST /volumes/prune', async (request, reply) => {
    const pruned = await volumes.prune(asRecord(request.query.filters()));
    for (const name of pruned.VolumesDeleted ?? []) {
      events.publish({ type: 'volume', action: 'destroy', id: name, attributes: { driver: 'local' } });
    }
    events.publish({
      type: 'volume',
      action: 'prune',
      id: '',
      attributes: { reclaimed: String(pruned.SpaceReclaimed) },
    });
    reply.json(200, pruned);
  });
}

export function asRecord(filters: EngineFilters): Record<string, readonly string[]> {
  return Object.fromEntries(filters.names().map((name) => [name, filters.get(name)]));
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidArgument(`${field} must be a string`);
  return value;
}

function stringMap(value: unknown, field: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`${field} must be an object of strings`);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw invalidArgument(`${field}["${key}"] must be a string`);
  }
  return value as Record<string, string>;
}
