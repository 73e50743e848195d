import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { afterEach, describe, expect, it } from 'vitest';

import { MigrationWarmer } from './migration-warmer.js';

/** A stand-in for `skiff-shim park` that any user may start: a Node.js process that only waits. */
const parkNode = () => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });

describe(MigrationWarmer.name, () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const directory = () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-warmer-'));
    made.push(dir);
    return join(dir, 'skiff.warm');
  };
  const settle = async (file: string, previous: string) => {
    for (let attempt = 0; attempt < 200; attempt++) {
      if (existsSync(file) && readFileSync(file, 'utf8') !== previous) return readFileSync(file, 'utf8');
      await delay(10);
    }
    throw new Error(`${file} was not written`);
  };

  it('moves its parked process to a and b in turn, one move at a time, and cleans up on close', async () => {
    const dir = directory();
    let parks = 0;
    const warmer = new MigrationWarmer({
      directory: dir,
      park: () => {
        parks += 1;
        return parkNode();
      },
    });
    warmer.warm();
    // Under way: a second call starts nothing.
    warmer.warm();
    const pid = await settle(join(dir, 'a', 'cgroup.procs'), '');
    expect(Number(pid)).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'b', 'cgroup.procs'))).toBe(false);
    await delay(20);
    warmer.warm();
    expect(await settle(join(dir, 'b', 'cgroup.procs'), '')).toBe(pid);
    expect(parks).toBe(1);
    process.kill(Number(pid), 0);

    rmSync(join(dir, 'a', 'cgroup.procs'));
    rmSync(join(dir, 'b', 'cgroup.procs'));
    await warmer.close();
    expect(() => process.kill(Number(pid), 0)).toThrow();
    expect(existsSync(dir)).toBe(false);
    // Closed: warming does nothing any more.
    warmer.warm();
    await delay(30);
    expect(existsSync(dir)).toBe(false);
  });

  it('turns itself off, saying why, when it cannot move the process', async () => {
    const dir = directory();
    const reasons: string[] = [];
    const warmer = new MigrationWarmer({
      directory: join(dir, 'missing-parent', 'skiff.warm'),
      park: parkNode,
      onDisabled: (reason) => reasons.push(reason),
    });
    warmer.warm();
    for (let attempt = 0; attempt < 100 && reasons.length === 0; attempt++) await delay(10);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toContain('ENOENT');
    warmer.warm();
    await delay(30);
    expect(reasons).toHaveLength(1);
    await warmer.close();
  });

  it('picks freezer on cgroup v1 (else pids, else any but cpuset) and the unified tree on v2', () => {
    const v1 = MigrationWarmer.forLayout(
      {
        version: 1,
        hierarchies: [{ dir: '/sys/fs/cgroup/cpu', controllers: ['cpu'] }],
        controllers: { cpu: '/sys/fs/cgroup/cpu', freezer: '/sys/fs/cgroup/freezer' },
      },
      'skiff',
      parkNode,
    );
    expect(v1?.directory).toBe('/sys/fs/cgroup/freezer/skiff.warm');
    const v2 = MigrationWarmer.forLayout({ version: 2, root: '/sys/fs/cgroup', controllers: [] }, 'skiff', parkNode);
    expect(v2?.directory).toBe('/sys/fs/cgroup/skiff.warm');
    const noFreezer = MigrationWarmer.forLayout(
      {
        version: 1,
        hierarchies: [
          { dir: '/sys/fs/cgroup/cpuset', controllers: ['cpuset'] },
          { dir: '/sys/fs/cgroup/memory', controllers: ['memory'] },
        ],
        controllers: { cpuset: '/sys/fs/cgroup/cpuset', memory: '/sys/fs/cgroup/memory' },
      },
      'skiff',
      parkNode,
    );
    expect(noFreezer?.directory).toBe('/sys/fs/cgroup/memory/skiff.warm');
    expect(MigrationWarmer.forLayout({ version: 1, hierarchies: [], controllers: {} }, 'skiff', parkNode)).toBe(
      undefined,
    );
  });
});
