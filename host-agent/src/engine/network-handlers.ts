import type { EngineRouter } from '../engine-api/engine-router.js';
import { invalidArgument } from '../engine-error.js';
import type { ContainerService } from '../containers/container-service.js';
import { isRunning } from '../containers/container-state.js';
import { parseEndpointConfig } from '../containers/create-request.js';
import type { EventBus } from '../events/event-bus.js';
import type { NetworkService } from '../networks/network-service.js';

/** The network routes of the Engine API, as the docker CLI and docker-compose call them. */
export function registerNetworkHandlers(
  router: EngineRouter,
  containers: ContainerService,
  networks: NetworkService,
  events?: EventBus,
): void {
  const publish = (action: string, id: string, name: string, extra: Record<string, string> = {}) =>
    events?.publish({ type: 'network', action, id, attributes: { name, type: 'bridge', ...extra } });

  router.handle('GET /networks', (request, reply) => {
    reply.json(
      200,
      networks.list(request.query.filters()).map((view) => ({ ...view, Containers: {} })),
    );
    return Promise.resolve();
  });

  router.handle('GET /networks/{id}', (request, reply) => {
    reply.json(200, withBuiltinContainers(networks.inspect(request.params.id), containers));
    return Promise.resolve();
  });

  router.handle('POST /networks/create', async (request, reply) => {
    const created = await networks.create(await request.json());
    const view = networks.inspect(created.Id);
    publish('create', created.Id, view.Name);
    reply.json(201, created);
  });

  router.handle('DELETE /networks/{id}', async (request, reply) => {
    const view = networks.inspect(request.params.id);
    await networks.remove(view.Id);
    publish('destroy', view.Id, view.Name);
    reply.empty(204);
  });

  router.handle('POST /networks/prune', async (request, reply) => {
    const filters = request.query.filters();
    for (const name of filters.names()) {
      if (name !== 'label' && name !== 'label!' && name !== 'until') throw invalidArgument(`invalid filter '${name}'`);
    }
    const labels = [
      ...(filters.has('label') ? filters.get('label') : []),
      ...(filters.has('label!') ? filters.get('label!').map((label) => `!${label}`) : []),
    ];
    const removed = await networks.prune(labels);
    reply.json(200, { NetworksDeleted: removed });
  });

  router.handle('POST /networks/{id}/connect', async (request, reply) => {
    const body = checkBody(await request.json());
    const record = containers.get(containerReference(body));
    const view = networks.inspect(request.params.id);
    await networks.connect(
      view.Id,
      {
        id: record.id,
        name: record.name,
        networkMode: record.request.host.networkMode,
        running: isRunning(record.state.status),
        pid: record.state.pid,
      },
      parseEndpointConfig(body.EndpointConfig, 'EndpointConfig'),
    );
    publish('connect', view.Id, view.Name, { container: record.id });
    reply.empty(200);
  });

  router.handle('POST /networks/{id}/disconnect', async (request, reply) => {
    const body = checkBody(await request.json());
    const record = containers.get(containerReference(body));
    const view = networks.inspect(request.params.id);
    if (body.Force !== undefined && typeof body.Force !== 'boolean')
      throw invalidArgument('invalid Force: expected true or false');
    await networks.disconnect(view.Id, { id: record.id, name: record.name }, body.Force === true);
    publish('disconnect', view.Id, view.Name, { container: record.id });
    reply.empty(200);
  });
}

function checkBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalidArgument('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function containerReference(body: Record<string, unknown>): string {
  if (typeof body.Container !== 'string' || !body.Container)
    throw invalidArgument('Container is required: name the container');
  return body.Container;
}

/** `host` and `none` list the running containers that use them. */
function withBuiltinContainers<T extends { Name: string; Containers: Record<string, unknown> }>(
  view: T,
  containers: ContainerService,
): T {
  if (view.Name !== 'host' && view.Name !== 'none') return view;
  return {
    ...view,
    Containers: Object.fromEntries(
      containers
        .list()
        .filter((record) => isRunning(record.state.status) && record.request.host.networkMode === view.Name)
        .map((record) => [
          record.id,
          { Name: record.name, EndpointID: '', MacAddress: '', IPv4Address: '', IPv6Address: '' },
        ]),
    ),
  };
}
