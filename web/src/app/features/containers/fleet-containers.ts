import { HttpClient, HttpParams } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { FleetEvent } from '@skiff/protocol';
import { firstValueFrom } from 'rxjs';

/** Docker's container summary (GET /containers/json) with the host it runs on. */
export interface FleetContainer {
  Id: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Status?: string;
  Created?: number;
  Labels?: Record<string, string>;
  hostId: string;
  hostName: string;
  hostStatus: string;
}

export interface FleetHostCount {
  id: string;
  name: string;
  status: string;
  counts: Partial<Record<string, number>>;
  /** Why this host's containers are missing from the list. */
  error?: string;
}

/** GET /api/containers. */
export interface FleetContainers {
  containers: FleetContainer[];
  hosts: FleetHostCount[];
}

export interface FleetContainerFilters {
  host: string;
  name: string;
  image: string;
  /** `key` or `key=value`. */
  label: string;
  state: string;
}

export const CONTAINER_STATES = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'] as const;

/** The fleet-wide container list of the server. */
@Injectable({ providedIn: 'root' })
export class FleetContainersApi {
  private readonly http = inject(HttpClient);

  list(filters: FleetContainerFilters): Promise<FleetContainers> {
    let params = new HttpParams();
    for (const key of ['host', 'name', 'image', 'label', 'state'] as const) {
      const value = filters[key].trim();
      if (value) params = params.set(key, value);
    }
    return firstValueFrom(this.http.get<FleetContainers>('/api/containers', { params }));
  }
}

/** The container a fleet event is about, if it is a container event. */
export function containerOfEvent(event: FleetEvent): string | null {
  const body = event.event as { Type?: unknown; Actor?: { ID?: unknown }; id?: unknown };
  if (body.Type !== 'container') return null;
  const id = body.Actor?.ID ?? body.id;
  return typeof id === 'string' ? id : '';
}

/** `/web-1` → `web-1`; Docker lists names with their leading slash. */
export function containerName(names: readonly string[] | undefined, id: string): string {
  const name = names?.[0];
  return name ? name.replace(/^\//, '') : id.slice(0, 12);
}
