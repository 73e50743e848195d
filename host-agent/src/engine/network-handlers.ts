import { createHash } from 'node:crypto';
import type { EngineRouter } from '../engine-api/engine-router.js';
import { invalidArgument, notFound } from '../engine-error.js';
import type { ContainerService } from '../containers/container-service.js';
import { isRunning } from '../containers/container-state.js';

/**
 * The networks this engine has while it makes no bridges of its own: Docker's built-in `host`
 * (the host's stack) and `none` (a container's own loopback only). `docker network ls` and
 * `inspect` show them with the running containers on each; creating, removing and connecting
 * networks answer 501 until the engine manages bridges.
 */
const BUILTIN = [
  { name: 'host', driver: 'host', modes: ['host'] },
  { name: 'none', driver: 'null', modes: ['none'] },
] as const;

const CREATED = '2024-01-01T00:00:00Z';
const NETWORK_FILTERS = ['id', 'name', 'driver', 'type', 'scope', 'label', 'dangling'];

/** A fixed id per built-in network, the same on every start, as Docker keeps its ids. */
function networkId(name: string): string {
  return createHash('sha256').update(`skiff builtin network ${name}`).digest('hex');
}

export function registerNetworkHandlers(router: EngineRouter, containers: ContainerService): void {
  const describe = (network: (typeof BUILTIN)[number], withContainers: boolean) => ({
    Name: network.name,
    Id: networkId(network.name),
    Created: CREATED,
    Scope: 'local',
    Driver: network.driver,
    EnableIPv4: false,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: withContainers
      ? Object.fromEntries(
          containers
            .list()
            .filter(
              (record) =>
                isRunning(record.state.status) &&
                (network.modes as readonly string[]).includes(record.request.host.networkMode),
            )
            .map((record) => [
              record.id,
              { Name: record.name, EndpointID: '', MacAddress: '', IPv4Address: '', IPv6Address: '' },
            ]),
        )
      : {},
    Options: {},
    Labels: {},
  });

  const find = (reference: string) => {
    const network =
      BUILTIN.find((candidate) => candidate.name === reference || networkId(candidate.name) === reference) ??
      (reference.length >= 1 && /^[a-f0-9]+$/.test(reference)
        ? BUILTIN.find((candidate) => networkId(candidate.name).startsWith(reference))
        : undefined);
    if (!network) throw notFound(`network ${reference} not found`);
    return network;
  };

  router.handle('GET /networks', (request, reply) => {
    const filters = request.query.filters();
    for (const name of filters.names()) {
      if (!NETWORK_FILTERS.includes(name)) throw invalidArgument(`invalid filter '${name}'`);
    }
    const any = (name: string, test: (value: string) => boolean) => !filters.has(name) || filters.get(name).some(test);
    const listed = BUILTIN.filter(
      (network) =>
        any('name', (value) => network.name.includes(value)) &&
        any('id', (value) => networkId(network.name).startsWith(value)) &&
        any('driver', (value) => network.driver === value) &&
        any('type', (value) => value === 'builtin') &&
        any('scope', (value) => value === 'local') &&
        any('dangling', (value) => value === 'false' || value === '0') &&
        !filters.has('label'),
    );
    reply.json(
      200,
      listed.map((network) => describe(network, false)),
    );
    return Promise.resolve();
  });

  router.handle('GET /networks/{id}', (request, reply) => {
    reply.json(200, describe(find(request.params.id), true));
    return Promise.resolve();
  });
}
