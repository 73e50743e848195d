import type { Permission } from '@skiff/protocol';

import type { PermissionInfo } from './people-dtos';

const AREA_LABELS: Readonly<Record<string, string>> = {
  host: 'Hosts',
  container: 'Containers',
  image: 'Images',
  volume: 'Volumes',
  network: 'Networks',
  user: 'People',
  audit: 'Audit log',
};

export interface PermissionArea {
  area: string;
  label: string;
  permissions: PermissionInfo[];
}

/** `container.exec` belongs to the area `container`; areas keep the catalogue's order. */
export function groupByArea(catalogue: readonly PermissionInfo[]): PermissionArea[] {
  const areas = new Map<string, PermissionArea>();
  for (const permission of catalogue) {
    const area = permission.name.split('.')[0] ?? permission.name;
    let group = areas.get(area);
    if (!group) {
      group = { area, label: AREA_LABELS[area] ?? area, permissions: [] };
      areas.set(area, group);
    }
    group.permissions.push(permission);
  }
  return [...areas.values()];
}

/** Keeps the catalogue's order, so a saved role reads the same way as the picker. */
export function inCatalogueOrder(catalogue: readonly PermissionInfo[], chosen: Iterable<Permission>): Permission[] {
  const wanted = new Set(chosen);
  return catalogue.map((permission) => permission.name).filter((name) => wanted.has(name));
}
