import type { DirectoryAttributes } from './tree-copy.js';

export const VOLUME_RECORD_FORMAT = 1;

/** Staging directories of an in-place population, inside `_data`: `.skiff-populate-<hex>`. */
export const IN_PLACE_STAGING_PREFIX = '.skiff-populate-';
const IN_PLACE_STAGING = /^\.skiff-populate-[0-9a-f]+$/;

/**
 * An in-place population whose copy is complete: its staging directory inside `_data` holds the
 * whole image content, and what is left is moving it up. Recorded so that a crash halfway through
 * the moves is finished, not mistaken for a volume that users wrote to.
 */
export interface PopulateJournal {
  /** The staging directory's name inside `_data`. */
  staging: string;
  /** What `_data` itself takes from the image's directory. */
  root: DirectoryAttributes;
}

/** `<root>/volumes/<name>/volume.json`: a volume exists exactly when this file does. */
export interface VolumeRecord {
  name: string;
  driver: string;
  /** RFC 3339 in UTC, to the second, as Docker shows it. */
  createdAt: string;
  /** The driver options: `type`, `device`, `o`. */
  options: Record<string, string>;
  labels: Record<string, string>;
  /** The image's content was copied in, or a container had written to it first: never copy again. */
  populated: boolean;
  populating?: PopulateJournal;
}

export class VolumeRecordError extends Error {
  constructor(path: string, problem: string) {
    super(`cannot read volume metadata ${path}: ${problem}`);
    this.name = 'VolumeRecordError';
  }
}

export function serialiseVolumeRecord(record: VolumeRecord): string {
  return `${JSON.stringify({ format: VOLUME_RECORD_FORMAT, ...record }, null, 2)}\n`;
}

export function parseVolumeRecord(text: string, path: string): VolumeRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new VolumeRecordError(path, 'it is not valid JSON');
  }
  if (!isObject(raw)) throw new VolumeRecordError(path, 'it is not a JSON object');
  if (raw['format'] !== VOLUME_RECORD_FORMAT) {
    throw new VolumeRecordError(
      path,
      `unknown format ${JSON.stringify(raw['format'])}, expected ${VOLUME_RECORD_FORMAT}`,
    );
  }
  const requiredString = (field: string): string => {
    const value = raw[field];
    if (typeof value !== 'string' || value === '') throw new VolumeRecordError(path, `field ${field} is missing`);
    return value;
  };
  const record: VolumeRecord = {
    name: requiredString('name'),
    driver: requiredString('driver'),
    createdAt: requiredString('createdAt'),
    options: stringMap(raw['options'], 'options', path),
    labels: stringMap(raw['labels'], 'labels', path),
    populated: raw['populated'] === true,
  };
  const populating = raw['populating'];
  if (populating !== undefined) record.populating = parseJournal(populating, path);
  return record;
}

function parseJournal(value: unknown, path: string): PopulateJournal {
  const root = isObject(value) ? value['root'] : undefined;
  if (
    !isObject(value) ||
    typeof value['staging'] !== 'string' ||
    !IN_PLACE_STAGING.test(value['staging']) ||
    !isObject(root) ||
    !Number.isInteger(root['mode']) ||
    !Number.isInteger(root['uid']) ||
    !Number.isInteger(root['gid'])
  ) {
    throw new VolumeRecordError(path, 'field populating is malformed');
  }
  return {
    staging: value['staging'],
    root: { mode: root['mode'] as number, uid: root['uid'] as number, gid: root['gid'] as number },
  };
}

function stringMap(value: unknown, field: string, path: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value) || !Object.values(value).every((entry) => typeof entry === 'string')) {
    throw new VolumeRecordError(path, `field ${field} is not a map of strings`);
  }
  return { ...(value as Record<string, string>) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
