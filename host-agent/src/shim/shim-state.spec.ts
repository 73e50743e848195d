import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readShimExitStatus, readShimState } from './shim-state.js';

describe('the shim’s state files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-shim-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads state.json and exit.json as the shim writes them', async () => {
    await writeFile(
      join(dir, 'state.json'),
      '{"shimPid":10,"pid":11,"startedAt":"2026-01-01T00:00:00Z","logPath":"/l"}\n',
    );
    expect(await readShimState(dir)).toMatchObject({ shimPid: 10, pid: 11 });
    expect(await readShimExitStatus(dir)).toBeUndefined();
  });

  it('takes an empty or torn file, as a crash of the host may leave, for none', async () => {
    await writeFile(join(dir, 'state.json'), '');
    await writeFile(join(dir, 'exit.json'), '{"pid":11,"exitC');
    expect(await readShimState(dir)).toBeUndefined();
    expect(await readShimExitStatus(dir)).toBeUndefined();
  });
});
