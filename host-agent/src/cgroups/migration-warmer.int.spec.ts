/**
 * The warmer on this host's real cgroups, with the real `skiff-shim park`: the parked process
 * lands in the warm cgroups beside the containers' parent, dies with its parent, and nothing of
 * it is left after close.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { repoRoot } from '../../../test/support/processes.js';
import { MigrationWarmer, parkWithShim } from './migration-warmer.js';
import { detectCgroupLayout } from './cgroup-layout.js';

const shimPath = join(repoRoot, 'host-agent/shim/build/skiff-shim');

function cgroupOf(pid: number, hierarchyDir: string, layoutVersion: 1 | 2): string | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  if (layoutVersion === 2) return lines.find((line) => line.startsWith('0::'))?.slice(3);
  const controller = hierarchyDir.split('/').pop() ?? '';
  return lines.find((line) => line.split(':')[1]?.split(',').includes(controller))?.split(':')[2];
}

describe('warming the cgroup migration lock, for real', () => {
  it('moves the parked process between the warm cgroups, and leaves nothing after close', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root: run the tests as root');
    // The layout only: the warm cgroups sit beside a parent that need not exist.
    const layout = await detectCgroupLayout();
    const warmer = MigrationWarmer.forLayout(layout, `skiff-warm-test-${process.pid}`, parkWithShim(shimPath));
    expect(warmer).toBeDefined();
    if (!warmer) return;
    const hierarchy = join(warmer.directory, '..');
    const version = layout.version;
    const name = `/skiff-warm-test-${process.pid}.warm`;
    const pidOfParked = async () => {
      for (let attempt = 0; attempt < 200; attempt++) {
        const text = existsSync(join(warmer.directory, 'a', 'cgroup.procs'))
          ? readFileSync(join(warmer.directory, 'a', 'cgroup.procs'), 'utf8') +
            readFileSync(join(warmer.directory, 'b', 'cgroup.procs'), 'utf8')
          : '';
        const pid = Number(text.trim());
        if (pid > 0) return pid;
        await delay(10);
      }
      throw new Error('the parked process never reached a warm cgroup');
    };
    try {
      warmer.warm();
      const pid = await pidOfParked();
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual([shimPath, 'park', '']);
      expect(cgroupOf(pid, hierarchy, version)).toBe(`${name}/a`);
      await delay(50);
      warmer.warm();
      for (let attempt = 0; attempt < 200 && cgroupOf(pid, hierarchy, version) !== `${name}/b`; attempt++) {
        await delay(10);
      }
      expect(cgroupOf(pid, hierarchy, version)).toBe(`${name}/b`);
      await warmer.close();
      expect(existsSync(`/proc/${pid}`)).toBe(false);
      expect(existsSync(warmer.directory)).toBe(false);
    } finally {
      await warmer.close();
    }
  });

  it('parks a process that dies with its parent', async () => {
    // sh starts the parked process and waits; SIGKILL to sh must take the parked one with it.
    const parent = spawn('sh', ['-c', `"${shimPath}" park & echo $!; wait`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = await new Promise<number>((resolve) =>
      parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    await delay(100);
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    parent.kill('SIGKILL');
    for (let attempt = 0; attempt < 100 && existsSync(`/proc/${pid}`); attempt++) await delay(20);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });
});
