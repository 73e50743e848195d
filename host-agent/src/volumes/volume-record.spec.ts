import { describe, expect, it } from 'vitest';
import { parseVolumeRecord, serialiseVolumeRecord, type VolumeRecord } from './volume-record.js';

const record: VolumeRecord = {
  name: 'data',
  driver: 'local',
  createdAt: '2025-01-02T03:04:05Z',
  options: { type: 'tmpfs', device: 'tmpfs' },
  labels: { tier: 'db' },
  populated: false,
  populating: { staging: '.skiff-populate-0a1b', root: { mode: 0o755, uid: 999, gid: 999 } },
};

describe(parseVolumeRecord.name, () => {
  it('reads back what was written', () => {
    expect(parseVolumeRecord(serialiseVolumeRecord(record), '/v/data/volume.json')).toEqual(record);
  });

  it('names the file when it is not JSON', () => {
    expect(() => parseVolumeRecord('{', '/v/data/volume.json')).toThrow(
      'cannot read volume metadata /v/data/volume.json: it is not valid JSON',
    );
  });

  it('refuses an unknown format', () => {
    expect(() => parseVolumeRecord(JSON.stringify({ ...record, format: 2 }), 'p')).toThrow(/unknown format 2/);
  });

  it('refuses a journal whose staging directory could lead out of the volume', () => {
    const text = serialiseVolumeRecord({ ...record, populating: { ...record.populating!, staging: '../../etc' } });
    expect(() => parseVolumeRecord(text, 'p')).toThrow(/field populating is malformed/);
  });

  it('refuses labels that are not strings', () => {
    expect(() =>
      parseVolumeRecord(serialiseVolumeRecord({ ...record, labels: { a: 1 as unknown as string } }), 'p'),
    ).toThrow(/field labels is not a map of strings/);
  });
});
