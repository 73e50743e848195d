import { randomBytes } from 'node:crypto';
import { lchown, lstat, mkdir, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, invalidArgument, notFound } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../logger.js';
import type { IdMap } from '../userns/id-map.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { ensureDirectory } from '../state/ensure-directory.js';
import { directorySize } from './directory-size.js';
import { KeyedLock } from './keyed-lock.js';
import { LOCAL_DRIVER, planLocalMount, type LocalMount } from './local-driver.js';
import { planPopulate, type ImageSource } from './populate-plan.js';
import {
  applyDirectoryAttributes,
  copyTreeContents,
  directoryAttributes,
  fsyncPath,
  type DirectoryAttributes,
  type TreeCopier,
  type TreeCopyReport,
} from './tree-copy.js';
import type {
  VolumeCreateRequest,
  VolumeDto,
  VolumeListResponse,
  VolumePruneResponse,
  VolumesDiskUsage,
} from './volume.dto.js';
import {
  matchesList,
  matchesPrune,
  parseListFilters,
  parsePruneFilters,
  type FilterableVolume,
  type VolumeFilters,
} from './volume-filters.js';
import { isNotMounted, type VolumeMounter } from './volume-mounter.js';
import { ANONYMOUS_LABEL, anonymousVolumeName, isValidVolumeName, validateVolumeName } from './volume-name.js';
import {
  IN_PLACE_STAGING_PREFIX,
  parseVolumeRecord,
  serialiseVolumeRecord,
  type PopulateJournal,
  type VolumeRecord,
} from './volume-record.js';

const DATA_DIRECTORY = '_data';
const RECORD_FILE = 'volume.json';
/** Temporary files of writeFileAtomic for volume.json, left by a crash. */
const RECORD_TEMPORARY_PREFIX = `.${RECORD_FILE}.`;
/** A population copied next to `_data`, to be renamed over it. */
const RENAME_STAGING_PREFIX = '.populate-';
/** A volume directory renamed out of the way, its removal pending. */
const REMOVING_PREFIX = '.removing-';

export interface VolumeStoreOptions {
  /** The engine's state root; volumes live in `<root>/volumes`. */
  root: string;
  mounter: VolumeMounter;
  /** The containers (any state) whose configuration references the volume. */
  usedBy?: (name: string) => readonly string[];
  logger?: Logger;
  /** Replaced in tests to fail halfway through a copy. */
  copyTree?: TreeCopier;
  now?: () => Date;
  /** The engine's user namespace remapping: a new volume belongs to the containers' root. */
  ids?: IdMap;
}

export type PopulateOutcome = 'copied' | 'already-populated' | 'not-empty' | 'no-source';

export interface PopulateResult {
  outcome: PopulateOutcome;
  /** Image entries not copied (FIFOs, sockets, device nodes), relative to the image's directory. */
  skippedEntries: string[];
}

interface MountState {
  /** Containers between mountFor and unmountFor. */
  holders: Set<string>;
  /** `_data` has the volume's device mounted on it. */
  mounted: boolean;
}

/**
 * Named and anonymous volumes of the local driver, one directory each under `<root>/volumes`:
 *
 *     <root>/volumes/                       0701
 *       <name>/                             0701
 *         volume.json                       0600, written atomically; the volume exists iff it does
 *         _data/                            0755 root, the Mountpoint; a mount point with type/device
 *         .populate-<hex>/                  a population being copied (removed after a crash)
 *       .removing-<hex>/                    a volume being deleted (removed after a crash)
 *
 * Operations on one volume run one at a time. Mounts are counted per container in memory;
 * after a restart, `open` finds volumes still mounted and callers re-register their containers.
 */
export class VolumeStore {
  readonly directory: string;
  private readonly mounter: VolumeMounter;
  private readonly usedBy: (name: string) => readonly string[];
  private readonly logger: Logger | undefined;
  private readonly copyTree: TreeCopier;
  private readonly now: () => Date;
  private readonly ids: IdMap | undefined;
  private readonly lock = new KeyedLock();
  private readonly mounts = new Map<string, MountState>();

  constructor({
    root,
    mounter,
    usedBy = () => [],
    logger,
    copyTree = copyTreeContents,
    now = () => new Date(),
    ids,
  }: VolumeStoreOptions) {
    this.ids = ids;
    this.directory = join(root, 'volumes');
    this.mounter = mounter;
    this.usedBy = usedBy;
    this.logger = logger;
    this.copyTree = copyTree;
    this.now = now;
  }

  /** A store whose directory exists and whose leftovers of a crash are cleaned up. */
  static async open(options: VolumeStoreOptions): Promise<VolumeStore> {
    const store = new VolumeStore(options);
    await store.recover();
    return store;
  }

  /** The host path of a volume's data, which containers bind-mount. */
  mountpoint(name: string): string {
    if (!isValidVolumeName(name)) throw noSuchVolume(name);
    return join(this.directory, name, DATA_DIRECTORY);
  }

  /**
   * `POST /volumes/create`. Without a name, an anonymous volume. Creating a name that exists with
   * the same driver returns the volume as it is, whatever the options and labels: Docker does so,
   * and `docker run -v data:/x` creates `data` implicitly with none of the options it was made with.
   */
  async create(request: VolumeCreateRequest = {}): Promise<VolumeDto> {
    const requested = request.name ?? '';
    const anonymous = requested === '';
    const name = anonymous ? anonymousVolumeName() : requested;
    validateVolumeName(name);
    const driver = request.driver === undefined || request.driver === '' ? LOCAL_DRIVER : request.driver;
    const options = stringMap(request.driverOpts, `driver options of volume ${name}`);
    const labels = stringMap(request.labels, `labels of volume ${name}`);
    if (anonymous) labels[ANONYMOUS_LABEL] = '';

    return this.lock.run(name, async () => {
      const existing = await this.readRecord(name);
      if (existing !== undefined) {
        if (existing.driver !== driver) {
          throw conflict(
            `cannot create volume ${name} with driver ${driver}: it exists with driver ${existing.driver}`,
          );
        }
        return this.toDto(existing);
      }
      if (driver !== LOCAL_DRIVER) {
        throw invalidArgument(`unknown volume driver ${JSON.stringify(driver)}: only ${LOCAL_DRIVER} is available`);
      }
      const mount = planLocalMount(name, options);
      if (mount?.bindSource !== undefined) await checkBindSource(name, mount.bindSource);

      const record: VolumeRecord = { name, driver, createdAt: rfc3339(this.now()), options, labels, populated: false };
      await ensureDirectory(this.volumeDirectory(name), 0o701);
      await ensureDirectory(this.mountpoint(name), 0o755);
      if (this.ids) await lchown(this.mountpoint(name), this.ids.root.uid, this.ids.root.gid);
      await this.writeRecord(record);
      this.logger?.info(`created volume ${name}`);
      return this.toDto(record);
    });
  }

  /** `GET /volumes/{name}`. */
  async inspect(name: string): Promise<VolumeDto> {
    return this.toDto(await this.requireRecord(name));
  }

  /** `GET /volumes`, filtered by name, driver, label and dangling. */
  async list(filters?: VolumeFilters): Promise<VolumeListResponse> {
    const criteria = parseListFilters(filters);
    const { records, warnings } = await this.readAll();
    const volumes = records
      .filter((record) => matchesList(this.filterable(record), criteria))
      .map((record) => this.toDto(record));
    return { Volumes: volumes, Warnings: warnings };
  }

  /**
   * `DELETE /volumes/{name}`. Refused while a container uses the volume, even with `force`, as
   * Docker does; `force` only makes a missing volume no error.
   */
  async remove(name: string, { force = false }: { force?: boolean } = {}): Promise<void> {
    if (!isValidVolumeName(name)) {
      if (force) return;
      throw noSuchVolume(name);
    }
    await this.lock.run(name, async () => {
      const record = await this.readRecord(name);
      if (record === undefined) {
        if (force) return;
        throw noSuchVolume(name);
      }
      await this.removeUnlocked(record);
    });
  }

  /**
   * `POST /volumes/prune`: unused volumes, anonymous ones only unless `all=true`. Volumes mounted
   * from a device are left alone (their data is not in the volume), as Docker does.
   */
  async prune(filters?: VolumeFilters): Promise<VolumePruneResponse> {
    const criteria = parsePruneFilters(filters);
    const { records } = await this.readAll();
    const report: VolumePruneResponse = { VolumesDeleted: [], SpaceReclaimed: 0 };
    for (const candidate of records) {
      if (this.mountOf(candidate) !== undefined || !matchesPrune(this.filterable(candidate), criteria)) continue;
      try {
        await this.lock.run(candidate.name, async () => {
          const record = await this.readRecord(candidate.name);
          if (record === undefined || this.usersOf(record.name).length > 0) return;
          const size = await directorySize(this.mountpoint(record.name));
          await this.removeUnlocked(record);
          report.VolumesDeleted.push(record.name);
          report.SpaceReclaimed += size;
        });
      } catch (error) {
        this.logger?.warn(`prune: cannot remove volume ${candidate.name}: ${errorMessage(error)}`);
      }
    }
    return report;
  }

  /**
   * Takes the volume for a container and returns the host path to bind into it. The first
   * container to take a volume with `type`/`device` mounts it; more calls by the same container
   * count once.
   */
  async mountFor(name: string, containerId: string): Promise<string> {
    if (containerId === '') throw invalidArgument(`cannot mount volume ${name}: no container given`);
    return this.lock.run(name, async () => {
      const record = await this.requireRecord(name);
      const mount = this.mountOf(record);
      const state = this.mounts.get(name) ?? { holders: new Set<string>(), mounted: false };
      const target = this.mountpoint(name);
      if (mount !== undefined && !state.mounted) {
        try {
          await this.mounter.mount(mount.source, target, mount.fstype, mount.flags, mount.data);
        } catch (error) {
          // The data string stays out of the message: it can hold a CIFS password.
          throw new Error(
            `cannot mount volume ${name} (${mount.fstype} ${mount.source}) at ${target}: ${errorMessage(error)}`,
            {
              cause: error,
            },
          );
        }
        state.mounted = true;
        await this.settlePopulationQuietly(record, true);
      }
      state.holders.add(containerId);
      this.mounts.set(name, state);
      return target;
    });
  }

  /** Gives the volume back; the last container to do so unmounts it. Unknown pairs are no-ops. */
  async unmountFor(name: string, containerId: string): Promise<void> {
    await this.lock.run(name, async () => {
      const state = this.mounts.get(name);
      if (state === undefined || !state.holders.delete(containerId)) return;
      if (state.holders.size > 0) return;
      if (state.mounted) {
        try {
          await this.unmountData(name);
        } catch (error) {
          // Nothing changed, so the caller can try again.
          state.holders.add(containerId);
          throw error;
        }
        state.mounted = false;
        await this.forgetEphemeralContent(name);
      }
      this.mounts.delete(name);
    });
  }

  /**
   * Docker's copy-up: copies the image's directory at the volume's container path
   * (`sourceDirectory`, a path inside the image's root filesystem, its symlinks already resolved
   * within that root) into the volume, the first time it is used while empty. The copy is staged and
   * moved into `_data` in one step, so a crash never leaves a half-copied volume taken as populated.
   *
   * Call it after mountFor(name, containerId) and before the container starts: a volume with
   * `type`/`device` must be mounted, and the holders mountFor counts tell whether another
   * container already has `_data` bound (then the copy goes in place rather than replacing `_data`).
   */
  async populateFromImage(name: string, sourceDirectory: string): Promise<PopulateResult> {
    return this.lock.run(name, async () => {
      let record = await this.requireRecord(name);
      const mount = this.mountOf(record);
      const state = this.mounts.get(name);
      if (mount !== undefined && state?.mounted !== true) {
        throw new Error(`cannot populate volume ${name}: it is not mounted (mountFor comes first)`);
      }
      record = await this.settlePopulation(record, true);
      const decision = planPopulate({
        populated: record.populated,
        dataEntries: (await readdir(this.mountpoint(name))).length,
        source: await imageSource(sourceDirectory),
        mounted: mount !== undefined,
        holders: state?.holders.size ?? 0,
      });
      switch (decision.action) {
        case 'skip':
          return { outcome: decision.reason, skippedEntries: [] };
        case 'mark-populated':
          await this.writeRecord({ ...record, populated: true });
          return { outcome: 'not-empty', skippedEntries: [] };
        case 'rename-over':
          return { outcome: 'copied', skippedEntries: await this.populateByRename(record, sourceDirectory) };
        case 'in-place':
          return { outcome: 'copied', skippedEntries: await this.populateInPlace(record, sourceDirectory) };
      }
    });
  }

  /** `VolumeUsage` of `GET /system/df`. */
  async diskUsage(): Promise<VolumesDiskUsage> {
    const { records } = await this.readAll();
    const usage: VolumesDiskUsage = {
      ActiveCount: 0,
      TotalCount: records.length,
      Reclaimable: 0,
      TotalSize: 0,
      Items: [],
    };
    for (const record of records) {
      const refCount = this.usersOf(record.name).length;
      // A device's content is not the host's disk usage; Docker leaves such volumes out of df.
      const size = this.mountOf(record) === undefined ? await directorySize(this.mountpoint(record.name)) : -1;
      usage.Items.push({ ...this.toDto(record), UsageData: { Size: size, RefCount: refCount } });
      if (refCount > 0) usage.ActiveCount += 1;
      if (size > 0) {
        usage.TotalSize += size;
        if (refCount === 0) usage.Reclaimable += size;
      }
    }
    return usage;
  }

  /**
   * Cleans up after a crash: finishes or drops interrupted removals, creations and populations,
   * and notes volumes still mounted (their containers call mountFor again to take them).
   */
  async recover(): Promise<void> {
    await ensureDirectory(this.directory, 0o701);
    for (const entry of await readdir(this.directory)) {
      try {
        if (entry.startsWith(REMOVING_PREFIX)) {
          await rm(join(this.directory, entry), { recursive: true, force: true });
        } else if (isValidVolumeName(entry)) {
          await this.lock.run(entry, () => this.recoverVolume(entry));
        } else {
          this.logger?.warn(`${join(this.directory, entry)} is not a volume; left alone`);
        }
      } catch (error) {
        this.logger?.warn(`cannot recover ${join(this.directory, entry)}: ${errorMessage(error)}`);
      }
    }
  }

  private async recoverVolume(name: string): Promise<void> {
    const volumeDirectory = this.volumeDirectory(name);
    await removeEntries(volumeDirectory, RECORD_TEMPORARY_PREFIX);
    let record = await this.readRecord(name);
    if (record === undefined) {
      // A creation that crashed before volume.json: only an empty `_data` can be there.
      await rmdirIfPresent(this.mountpoint(name));
      await rmdir(volumeDirectory);
      return;
    }
    const mount = this.mountOf(record);
    let contentVisible = true;
    if (mount !== undefined) {
      contentVisible = await this.mounter.isMounted(this.mountpoint(name));
      if (contentVisible) {
        if (!this.mounts.has(name)) this.mounts.set(name, { holders: new Set(), mounted: true });
      } else if (mount.ephemeral) {
        record = (await this.forgetEphemeralContent(name)) ?? record;
      }
    }
    await this.settlePopulation(record, contentVisible);
  }

  private async removeUnlocked(record: VolumeRecord): Promise<void> {
    const { name } = record;
    const users = this.usersOf(name);
    if (users.length > 0) {
      throw conflict(`cannot remove volume ${name}: it is in use by container ${users.join(', ')}`);
    }
    const state = this.mounts.get(name);
    if (state?.mounted === true) {
      // Left mounted by a failed unmount or by the previous run of the agent.
      await this.unmountData(name);
      state.mounted = false;
    }
    this.mounts.delete(name);
    if (this.mountOf(record) !== undefined) {
      // rmdir, never a recursive delete, where a device may be mounted: with `o=bind` that device
      // is the user's directory. A mount point answers EBUSY and a visible device ENOTEMPTY.
      try {
        await rmdirIfPresent(this.mountpoint(name));
      } catch (error) {
        throw new Error(
          `cannot remove volume ${name}: ${this.mountpoint(name)} is still mounted: ${errorMessage(error)}`,
          {
            cause: error,
          },
        );
      }
    }
    // One rename makes the volume disappear; a crash after it leaves only a `.removing-` directory.
    const trash = join(this.directory, `${REMOVING_PREFIX}${randomBytes(8).toString('hex')}`);
    await rename(this.volumeDirectory(name), trash);
    await fsyncPath(this.directory);
    await rm(trash, { recursive: true, force: true });
    this.logger?.info(`removed volume ${name}`);
  }

  private async unmountData(name: string): Promise<void> {
    try {
      await this.mounter.unmount(this.mountpoint(name));
    } catch (error) {
      if (isNotMounted(error)) return;
      throw new Error(`cannot unmount volume ${name} at ${this.mountpoint(name)}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  /** A tmpfs volume starts empty at its next mount, so it must be populated again, as Docker would. */
  private async forgetEphemeralContent(name: string): Promise<VolumeRecord | undefined> {
    const record = await this.readRecord(name);
    if (record === undefined || this.mountOf(record)?.ephemeral !== true) return record;
    if (!record.populated && record.populating === undefined) return record;
    const reset = withPopulated(record, false);
    await this.writeRecord(reset);
    return reset;
  }

  private async populateByRename(record: VolumeRecord, source: string): Promise<string[]> {
    const volumeDirectory = this.volumeDirectory(record.name);
    const staging = join(volumeDirectory, `${RENAME_STAGING_PREFIX}${randomBytes(8).toString('hex')}`);
    let report: TreeCopyReport;
    await mkdir(staging, { mode: 0o700 });
    try {
      report = await this.copyTree(source, staging);
      await applyDirectoryAttributes(staging, await directoryAttributes(source));
      await fsyncPath(staging);
      // rename(2) replaces an empty directory: `_data` goes from empty to complete in one step.
      await rename(staging, this.mountpoint(record.name));
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw populateError(record.name, source, error);
    }
    await fsyncPath(volumeDirectory);
    await this.writeRecord({ ...record, populated: true });
    this.logger?.info(`populated volume ${record.name} from ${source}`);
    return report.skipped;
  }

  private async populateInPlace(record: VolumeRecord, source: string): Promise<string[]> {
    const data = this.mountpoint(record.name);
    const stagingName = `${IN_PLACE_STAGING_PREFIX}${randomBytes(8).toString('hex')}`;
    const staging = join(data, stagingName);
    let report: TreeCopyReport;
    let root: DirectoryAttributes;
    await mkdir(staging, { mode: 0o700 });
    try {
      report = await this.copyTree(source, staging);
      root = await directoryAttributes(source);
      await fsyncPath(staging);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw populateError(record.name, source, error);
    }
    // From here the copy is complete; the journal lets a crash during the moves be finished.
    const journal: PopulateJournal = { staging: stagingName, root };
    await this.writeRecord({ ...record, populating: journal });
    await this.finishInPlace(record, journal);
    this.logger?.info(`populated volume ${record.name} from ${source}`);
    return report.skipped;
  }

  private async finishInPlace(record: VolumeRecord, journal: PopulateJournal): Promise<VolumeRecord> {
    const data = this.mountpoint(record.name);
    const staging = join(data, journal.staging);
    let names: string[] = [];
    try {
      names = await readdir(staging);
    } catch (error) {
      // The moves were done and the staging directory removed before the crash.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    for (const entry of names) await rename(join(staging, entry), join(data, entry));
    await rmdirIfPresent(staging);
    await applyDirectoryAttributes(data, journal.root);
    await fsyncPath(data);
    const populated = withPopulated(record, true);
    await this.writeRecord(populated);
    return populated;
  }

  /**
   * Finishes or drops a population a crash interrupted. `contentVisible` is false for a device
   * volume that is not mounted: its `_data` is then the bare mount point, not the volume.
   */
  private async settlePopulation(record: VolumeRecord, contentVisible: boolean): Promise<VolumeRecord> {
    await removeEntries(this.volumeDirectory(record.name), RENAME_STAGING_PREFIX);
    if (!contentVisible) return record;
    if (record.populating !== undefined) return this.finishInPlace(record, record.populating);
    if (!record.populated) await removeEntries(this.mountpoint(record.name), IN_PLACE_STAGING_PREFIX);
    return record;
  }

  /** After a mount: a failure here must not fail the container, and populateFromImage retries it. */
  private async settlePopulationQuietly(record: VolumeRecord, contentVisible: boolean): Promise<void> {
    try {
      await this.settlePopulation(record, contentVisible);
    } catch (error) {
      this.logger?.warn(`cannot finish the population of volume ${record.name}: ${errorMessage(error)}`);
    }
  }

  private mountOf(record: VolumeRecord): LocalMount | undefined {
    return record.driver === LOCAL_DRIVER ? planLocalMount(record.name, record.options) : undefined;
  }

  private usersOf(name: string): string[] {
    return [...new Set([...this.usedBy(name), ...(this.mounts.get(name)?.holders ?? [])])];
  }

  private filterable(record: VolumeRecord): FilterableVolume {
    return {
      name: record.name,
      driver: record.driver,
      labels: record.labels,
      inUse: this.usersOf(record.name).length > 0,
    };
  }

  private toDto(record: VolumeRecord): VolumeDto {
    return {
      CreatedAt: record.createdAt,
      Driver: record.driver,
      Labels: { ...record.labels },
      Mountpoint: this.mountpoint(record.name),
      Name: record.name,
      Options: { ...record.options },
      Scope: 'local',
    };
  }

  private volumeDirectory(name: string): string {
    return join(this.directory, name);
  }

  private async requireRecord(name: string): Promise<VolumeRecord> {
    const record = isValidVolumeName(name) ? await this.readRecord(name) : undefined;
    if (record === undefined) throw noSuchVolume(name);
    return record;
  }

  /** The volume's metadata, or undefined when it does not exist. `name` must be valid. */
  private async readRecord(name: string): Promise<VolumeRecord | undefined> {
    const path = join(this.volumeDirectory(name), RECORD_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const record = parseVolumeRecord(text, path);
    if (record.name !== name) throw new Error(`cannot read volume metadata ${path}: it names volume ${record.name}`);
    return record;
  }

  private async writeRecord(record: VolumeRecord): Promise<void> {
    await writeFileAtomic(join(this.volumeDirectory(record.name), RECORD_FILE), serialiseVolumeRecord(record), {
      mode: 0o600,
    });
  }

  private async readAll(): Promise<{ records: VolumeRecord[]; warnings: string[] }> {
    let entries: string[];
    try {
      entries = await readdir(this.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], warnings: [] };
      throw error;
    }
    const records: VolumeRecord[] = [];
    const warnings: string[] = [];
    for (const name of entries.sort()) {
      if (!isValidVolumeName(name)) continue;
      try {
        const record = await this.readRecord(name);
        if (record !== undefined) records.push(record);
      } catch (error) {
        warnings.push(`volume ${name} left out: ${errorMessage(error)}`);
      }
    }
    return { records, warnings };
  }
}

const noSuchVolume = (name: string) => notFound(`no such volume: ${name}`);

const populateError = (name: string, source: string, error: unknown) =>
  new Error(`cannot populate volume ${name} from ${source}: ${errorMessage(error)}`, { cause: error });

/** The record with `populated` set and no population journal. */
function withPopulated({ name, driver, createdAt, options, labels }: VolumeRecord, populated: boolean): VolumeRecord {
  return { name, driver, createdAt, options, labels, populated };
}

/** RFC 3339 to the second, as Docker prints CreatedAt. */
const rfc3339 = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Request bodies are JSON: check that a map really holds strings before it is stored. */
function stringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`invalid ${what}: expected an object`);
  const map: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string')
      throw invalidArgument(`invalid ${what}: the value of ${JSON.stringify(key)} is not a string`);
    map[key] = entry;
  }
  return map;
}

async function checkBindSource(name: string, path: string): Promise<void> {
  let isDirectory: boolean;
  try {
    // Followed, as mount(2) follows it.
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw invalidArgument(`invalid options for volume ${name}: bind device ${path} does not exist`);
    }
    throw error;
  }
  if (!isDirectory) throw invalidArgument(`invalid options for volume ${name}: bind device ${path} is not a directory`);
}

/** The image's directory is looked at, not followed: a symlink there is not a directory of the image. */
async function imageSource(path: string): Promise<ImageSource> {
  try {
    return (await lstat(path)).isDirectory() ? 'directory' : 'not-a-directory';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return 'missing';
    }
    throw error;
  }
}

async function removeEntries(directory: string, prefix: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    if (entry.startsWith(prefix)) await rm(join(directory, entry), { recursive: true, force: true });
  }
}

async function rmdirIfPresent(path: string): Promise<void> {
  try {
    await rmdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
