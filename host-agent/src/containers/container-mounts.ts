import type { Stats } from 'node:fs';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../engine-error.js';
import type { VolumeStore } from '../volumes/volume-store.js';
import type { MountPoint } from './container-record.js';
import type { CreateRequest, MountRequest } from './create-request.js';
import type { ResolvedMount } from './runtime-plan.js';

/** Where a container's volumes and binds come from, decided at create (as Docker does). */
export interface PlannedMounts {
  points: MountPoint[];
  /** Volumes this create made (anonymous or named), to remove again if the create fails. */
  created: string[];
}

export interface MountResolver {
  volumes: VolumeStore;
  /** The mount points of another container, for --volumes-from. */
  mountsOf(reference: string): MountPoint[];
}

/**
 * Turns `-v`, `--mount`, the image's and the request's anonymous VOLUMEs and `--volumes-from`
 * into mount points. Binds are checked here, so a missing `--mount` source is a 400 on create.
 */
export async function planMounts(
  request: CreateRequest,
  imageVolumes: string[],
  resolver: MountResolver,
): Promise<PlannedMounts> {
  const points: MountPoint[] = [];
  const created: string[] = [];
  const taken = new Set<string>();
  const add = (point: MountPoint) => {
    taken.add(point.Destination);
    points.push(point);
  };
  try {
    for (const mount of request.host.mounts) {
      if (mount.type === 'tmpfs') {
        taken.add(mount.target);
        continue;
      }
      add(await mountPoint(mount, resolver, created));
    }
    for (const spec of request.host.volumesFrom) {
      const [reference = '', mode] = spec.split(':');
      if (mode !== undefined && mode !== 'ro' && mode !== 'rw') {
        throw invalidArgument(`invalid mode "${mode}" in --volumes-from ${spec}: use ro or rw`);
      }
      for (const point of resolver.mountsOf(reference)) {
        if (point.Type === 'tmpfs' || taken.has(point.Destination)) continue;
        const rw = mode === undefined ? point.RW : mode === 'rw';
        add({ ...point, RW: rw, Mode: rw ? '' : 'ro' });
      }
    }
    for (const target of [...imageVolumes, ...request.volumes]) {
      if (taken.has(target)) continue;
      const volume = await resolver.volumes.create({});
      created.push(volume.Name);
      add({
        Type: 'volume',
        Name: volume.Name,
        Source: volume.Mountpoint,
        Destination: target,
        Driver: 'local',
        Mode: '',
        RW: true,
        Propagation: '',
      });
    }
    return { points, created };
  } catch (error) {
    for (const name of created) await resolver.volumes.remove(name, { force: true }).catch(() => undefined);
    throw error;
  }
}

async function mountPoint(
  mount: Exclude<MountRequest, { type: 'tmpfs' }>,
  resolver: MountResolver,
  created: string[],
): Promise<MountPoint> {
  if (mount.type === 'bind') {
    const exists = await lstat(mount.source).then(
      () => true,
      () => false,
    );
    if (!exists) {
      if (!mount.createHostPath)
        throw invalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${mount.source}`);
      // `-v /host/path:…` creates a missing host directory, as Docker does.
      await mkdir(mount.source, { recursive: true, mode: 0o755 });
    }
    return {
      Type: 'bind',
      Source: mount.source,
      Destination: mount.target,
      Mode: mount.readOnly ? 'ro' : '',
      RW: !mount.readOnly,
      Propagation: mount.propagation ?? 'rprivate',
    };
  }
  let name = mount.name;
  if (name === null) {
    const volume = await resolver.volumes.create({ labels: mount.labels });
    name = volume.Name;
    created.push(name);
  } else {
    const existed = await resolver.volumes.inspect(name).then(
      () => true,
      () => false,
    );
    await resolver.volumes.create({ name, labels: mount.labels });
    if (!existed) created.push(name);
  }
  return {
    Type: 'volume',
    Name: name,
    Source: resolver.volumes.mountpoint(name),
    Destination: mount.target,
    Driver: 'local',
    Mode: mount.noCopy ? 'nocopy' : mount.readOnly ? 'ro' : 'z',
    RW: !mount.readOnly,
    Propagation: '',
  };
}

/** The tmpfs mounts of a request, with Docker's size and mode options. */
export function tmpfsMounts(request: CreateRequest): ResolvedMount[] {
  return request.host.mounts.flatMap((mount): ResolvedMount[] => {
    if (mount.type !== 'tmpfs') return [];
    const data = [
      ...(mount.sizeBytes ? [`size=${mount.sizeBytes}`] : []),
      ...(mount.mode !== undefined ? [`mode=${mount.mode.toString(8)}`] : []),
      ...mount.options.filter((option) => option.includes('=')),
    ].join(',');
    return [
      { kind: 'tmpfs', target: mount.target, readOnly: mount.options.includes('ro'), data, flags: mount.options },
    ];
  });
}

/**
 * Reads a small file of the image (such as /etc/passwd) from the topmost layer that has it.
 * Symlinks are not followed: an image must not make the agent read a file of the host.
 */
export async function readImageFile(lowerDirs: readonly string[], path: string): Promise<string | null> {
  for (const dir of lowerDirs) {
    const found = await lstatInLayer(dir, path);
    if (found === 'absent') continue;
    if (found === 'unsafe' || !found.info.isFile() || found.info.size > 1024 * 1024) return null;
    return readFile(found.path, 'utf8');
  }
  return null;
}

/**
 * lstat of `path` inside one layer, refusing to pass through a symlink on the way (an image's
 * `/etc -> /host/secrets` must not lead the agent out of the layer).
 */
async function lstatInLayer(dir: string, path: string): Promise<{ path: string; info: Stats } | 'absent' | 'unsafe'> {
  const parts = path.split('/').filter(Boolean);
  let current = dir;
  for (const [index, part] of parts.entries()) {
    current = join(current, part);
    const info = await lstat(current).catch(() => undefined);
    if (!info) return 'absent';
    if (index === parts.length - 1) return { path: current, info };
    if (info.isSymbolicLink()) return 'unsafe';
    if (!info.isDirectory()) return 'absent';
  }
  return 'absent';
}

/** The image's content at a path, for pre-populating a new volume: the topmost layer's directory there. */
export async function imageDirectory(lowerDirs: readonly string[], path: string): Promise<string | undefined> {
  for (const dir of lowerDirs) {
    const found = await lstatInLayer(dir, path);
    if (found === 'absent') continue;
    if (found === 'unsafe' || !found.info.isDirectory()) return undefined;
    return found.path;
  }
  return undefined;
}
