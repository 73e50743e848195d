import type { EngineFilters } from '../engine-api/engine-filters.js';
import { invalidArgument } from '../engine-error.js';
import type { ContainerRecord } from './container-record.js';
import type { ContainerStatus } from './container-state.js';

export const CONTAINER_FILTERS = [
  'id',
  'name',
  'label',
  'status',
  'ancestor',
  'exited',
  'before',
  'since',
  'volume',
  'network',
  'health',
  'is-task',
  'expose',
  'publish',
] as const;

const HEALTH_FILTERS = ['starting', 'healthy', 'unhealthy', 'none'];

const STATUSES: ContainerStatus[] = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/**
 * `docker ps --filter`: each filter name must match (AND), any of its values may (OR), as Docker
 * does. `resolve` finds containers for `before`/`since`; `imageMatches` answers `ancestor`.
 */
export function filterContainers(
  records: ContainerRecord[],
  filters: EngineFilters,
  resolve: (reference: string) => ContainerRecord,
  imageMatches: (reference: string, record: ContainerRecord) => boolean,
  networksOf: (record: ContainerRecord) => { names: string[]; ids: string[] } = (record) => ({
    names: [record.request.host.networkMode],
    ids: [],
  }),
): ContainerRecord[] {
  for (const status of filters.get('status')) {
    if (!STATUSES.includes(status as ContainerStatus)) {
      throw invalidArgument(`invalid filter 'status=${status}': use one of ${STATUSES.join(', ')}`);
    }
  }
  for (const health of filters.get('health')) {
    if (!HEALTH_FILTERS.includes(health))
      throw invalidArgument(`invalid filter 'health=${health}': use one of ${HEALTH_FILTERS.join(', ')}`);
  }
  const exited = filters.get('exited').map((value) => {
    if (!/^-?\d+$/.test(value)) throw invalidArgument(`invalid filter 'exited=${value}': an exit code is a number`);
    return Number(value);
  });
  const before = filters.get('before').map((reference) => resolve(reference).created);
  const since = filters.get('since').map((reference) => resolve(reference).created);
  return records.filter((record) => {
    const any = (name: string, test: (value: string) => boolean) => !filters.has(name) || filters.get(name).some(test);
    return (
      any('id', (value) => record.id.startsWith(value)) &&
      any('name', (value) => record.name.includes(value.replace(/^\//, ''))) &&
      any('label', (value) => labelMatches(record.labels, value)) &&
      any('status', (value) => record.state.status === value) &&
      any('health', (value) => (record.state.health?.Status ?? 'none') === value) &&
      any('ancestor', (value) => imageMatches(value, record)) &&
      any('network', (value) => {
        const { names, ids } = networksOf(record);
        return names.includes(value) || ids.some((id) => id.startsWith(value));
      }) &&
      any('volume', (value) => record.mounts.some((mount) => mount.Name === value || mount.Destination === value)) &&
      (exited.length === 0 || (record.state.status === 'exited' && exited.includes(record.state.exitCode))) &&
      before.every((created) => record.created < created) &&
      since.every((created) => record.created > created)
    );
  });
}

function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const index = filter.indexOf('=');
  if (index < 0) return filter in labels;
  return labels[filter.slice(0, index)] === filter.slice(index + 1);
}
