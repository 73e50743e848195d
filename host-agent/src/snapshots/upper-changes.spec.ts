import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeSysCalls } from '../sys/fake-sys-calls.js';
import { OVERLAY_OPAQUE_XATTR } from '../sys/sys-calls.js';
import { upperChanges } from './upper-changes.js';

describe(upperChanges.name, () => {
  let base: string;
  let lower: string;
  let upper: string;
  let sys: FakeSysCalls;
  const same = new Date('2024-01-01T00:00:00Z');

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'skiff-changes-'));
    lower = join(base, 'lower');
    upper = join(base, 'upper');
    sys = new FakeSysCalls();
    for (const dir of ['etc', 'var/cache', 'bin']) mkdirSync(join(lower, dir), { recursive: true });
    writeFileSync(join(lower, 'etc/passwd'), 'root\n');
    writeFileSync(join(lower, 'etc/hosts'), 'localhost\n');
    writeFileSync(join(lower, 'var/cache/old'), 'x');
    writeFileSync(join(lower, 'bin/sh'), 'sh');
    mkdirSync(upper);
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const whiteout = (path: string) =>
    sys.mknod({ path: join(upper, path), kind: 'char', permissions: 0, major: 0, minor: 0 });

  it('reports nothing for an untouched container', async () => {
    expect(await upperChanges(upper, [lower], sys)).toEqual([]);
  });

  it('reports an added file and its changed parent', async () => {
    mkdirSync(join(upper, 'etc'));
    writeFileSync(join(upper, 'etc/motd'), 'hi');
    expect(await upperChanges(upper, [lower], sys)).toEqual([
      { Path: '/etc', Kind: 0 },
      { Path: '/etc/motd', Kind: 1 },
    ]);
  });

  it('reports a modified file', async () => {
    mkdirSync(join(upper, 'etc'));
    writeFileSync(join(upper, 'etc/passwd'), 'root\nuser\n');
    // A copy-up keeps the directory's time: the directory itself is no change.
    utimesSync(join(upper, 'etc'), same, same);
    utimesSync(join(lower, 'etc'), same, same);
    expect(await upperChanges(upper, [lower], sys)).toEqual([{ Path: '/etc/passwd', Kind: 0 }]);
  });

  it('reports a whiteout as deleted', async () => {
    mkdirSync(join(upper, 'bin'));
    whiteout('bin/sh');
    expect(await upperChanges(upper, [lower], sys)).toEqual([
      { Path: '/bin', Kind: 0 },
      { Path: '/bin/sh', Kind: 2 },
    ]);
  });

  it('reports an opaque directory that hides a lower one as deleted, its new content as added', async () => {
    mkdirSync(join(upper, 'var/cache'), { recursive: true });
    sys.lsetxattr(join(upper, 'var/cache'), OVERLAY_OPAQUE_XATTR, 'y');
    writeFileSync(join(upper, 'var/cache/new'), 'n');
    const changes = await upperChanges(upper, [lower], sys);
    expect(changes).toContainEqual({ Path: '/var/cache', Kind: 2 });
    expect(changes).toContainEqual({ Path: '/var/cache/new', Kind: 1 });
  });

  it('treats a path deleted by a higher lower layer as absent', async () => {
    const top = join(base, 'top');
    mkdirSync(join(top, 'etc'), { recursive: true });
    sys.mknod({ path: join(top, 'etc/hosts'), kind: 'char', permissions: 0, major: 0, minor: 0 });
    mkdirSync(join(upper, 'etc'));
    writeFileSync(join(upper, 'etc/hosts'), 'new');
    const changes = await upperChanges(upper, [top, lower], sys);
    expect(changes).toContainEqual({ Path: '/etc/hosts', Kind: 1 });
  });
});
