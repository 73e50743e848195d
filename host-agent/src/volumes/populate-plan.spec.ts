import { describe, expect, it } from 'vitest';
import { planPopulate, type PopulateState } from './populate-plan.js';

const fresh: PopulateState = { populated: false, dataEntries: 0, source: 'directory', mounted: false, holders: 1 };

describe(planPopulate.name, () => {
  it('renames a complete copy over a fresh, empty volume', () => {
    expect(planPopulate(fresh)).toEqual({ action: 'rename-over' });
    expect(planPopulate({ ...fresh, holders: 0 })).toEqual({ action: 'rename-over' });
  });

  it('copies in place into a mounted volume, which cannot be renamed over', () => {
    expect(planPopulate({ ...fresh, mounted: true })).toEqual({ action: 'in-place' });
  });

  it('copies in place when another container already holds the volume', () => {
    expect(planPopulate({ ...fresh, holders: 2 })).toEqual({ action: 'in-place' });
  });

  it('never copies into a volume populated before', () => {
    expect(planPopulate({ ...fresh, populated: true })).toEqual({ action: 'skip', reason: 'already-populated' });
  });

  it('only records a volume someone wrote to as populated', () => {
    expect(planPopulate({ ...fresh, dataEntries: 3 })).toEqual({ action: 'mark-populated' });
  });

  it('leaves the volume eligible when the image has nothing at the path', () => {
    expect(planPopulate({ ...fresh, source: 'missing' })).toEqual({ action: 'skip', reason: 'no-source' });
    expect(planPopulate({ ...fresh, source: 'not-a-directory' })).toEqual({ action: 'skip', reason: 'no-source' });
  });
});
