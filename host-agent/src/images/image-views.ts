/**
 * The Engine API shapes of an image: ImageInspect (GET /images/{name}/json), ImageSummary
 * (GET /images/json) and HistoryResponseItem (GET /images/{name}/history). Pure functions of
 * the stored record and config, so their tests need no disk.
 */
import type { Digest } from '../snapshots/digest.js';
import type { ContainerDefaults, HealthConfig, ImageConfig } from './image-config.js';
import type { ImageRecord } from './image-store.js';

/** What dockerd prints for a time it does not have. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface ImageConfigView {
  User: string;
  ExposedPorts?: Record<string, object>;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[];
}

export interface ImageInspect {
  Id: Digest;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created?: string;
  DockerVersion: string;
  Author: string;
  Config: ImageConfigView;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  /** Dropped in API 1.44; docker 20.10-era clients still read it. */
  VirtualSize: number;
  GraphDriver: { Name: string; Data: Record<string, string> };
  RootFS: { Type: 'layers'; Layers: Digest[] };
  Metadata: { LastTagTime: string };
}

export interface ImageSummary {
  Id: Digest;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize: number;
  Labels: Record<string, string>;
  Containers: number;
}

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[];
  Size: number;
  Comment: string;
}

export interface ImageNames {
  repoTags: string[];
  repoDigests: string[];
}

export function configView(config: ContainerDefaults | undefined): ImageConfigView {
  const c = config ?? {};
  return {
    User: c.User ?? '',
    ...(c.ExposedPorts ? { ExposedPorts: c.ExposedPorts } : {}),
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
    ...(c.ArgsEscaped !== undefined ? { ArgsEscaped: c.ArgsEscaped } : {}),
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
    ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
    ...(c.Shell ? { Shell: c.Shell } : {}),
  };
}

export function inspectView(
  record: ImageRecord,
  config: ImageConfig,
  names: ImageNames,
  graphDriverData: Record<string, string>,
): ImageInspect {
  return {
    Id: record.id,
    RepoTags: names.repoTags,
    RepoDigests: names.repoDigests,
    Parent: record.parent ?? '',
    Comment: config.comment ?? '',
    ...(config.created ? { Created: config.created } : {}),
    DockerVersion: config.docker_version ?? '',
    Author: config.author ?? '',
    Config: configView(config.config),
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    ...(config['os.version'] ? { OsVersion: config['os.version'] } : {}),
    Size: record.size,
    VirtualSize: record.size,
    GraphDriver: { Name: 'overlay2', Data: graphDriverData },
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Metadata: { LastTagTime: record.lastTagTime ?? ZERO_TIME },
  };
}

/** Seconds since the epoch of an RFC 3339 time; 0 when absent or unreadable. */
export function unixSeconds(time: string | undefined): number {
  if (time === undefined) return 0;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

export function summaryView(
  record: ImageRecord,
  config: ImageConfig,
  names: ImageNames,
  counts: { containers?: number; sharedSize?: number } = {},
): ImageSummary {
  return {
    Id: record.id,
    ParentId: record.parent ?? '',
    RepoTags: names.repoTags,
    RepoDigests: names.repoDigests,
    Created: unixSeconds(config.created),
    Size: record.size,
    SharedSize: counts.sharedSize ?? -1,
    VirtualSize: record.size,
    Labels: config.config?.Labels ?? {},
    Containers: counts.containers ?? -1,
  };
}

/**
 * Newest first, like `docker history`: one row per history entry, each entry that made a layer
 * paired with that layer's size. The top row carries the image id and tags; rows below show
 * `<missing>`, as dockerd does for layers that are not images of their own here.
 */
export function historyView(
  record: ImageRecord,
  config: ImageConfig,
  layerSizes: readonly number[],
  tags: string[],
): HistoryItem[] {
  const entries = config.history ?? [];
  const madeLayers = entries.filter((entry) => entry.empty_layer !== true).length;
  const rows: Omit<HistoryItem, 'Id' | 'Tags'>[] = [];
  if (entries.length > 0 && madeLayers === layerSizes.length) {
    let layer = 0;
    for (const entry of entries) {
      const size = entry.empty_layer === true ? 0 : (layerSizes[layer++] ?? 0);
      rows.push({
        Created: unixSeconds(entry.created),
        CreatedBy: entry.created_by ?? '',
        Size: size,
        Comment: entry.comment ?? '',
      });
    }
  } else {
    // No usable history (e.g. an image imported by another tool): one row per layer.
    for (const size of layerSizes)
      rows.push({ Created: unixSeconds(config.created), CreatedBy: '', Size: size, Comment: '' });
    if (rows.length === 0) rows.push({ Created: unixSeconds(config.created), CreatedBy: '', Size: 0, Comment: '' });
  }
  return rows.reverse().map((row, index) => ({
    Id: index === 0 ? record.id : '<missing>',
    ...row,
    Tags: index === 0 ? tags : [],
  }));
}
