/**
 * posix_spawn for real (no root needed): what the child gets on each descriptor, its session and
 * directory, its exit, and that it is reaped.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { spawnDetached, type DetachedChild } from './detached-spawn.js';
import { SysError } from './sys-calls.js';

function text(socket: Socket | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!socket) return reject(new Error('no such pipe'));
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (got += chunk));
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let attempt = 0; !condition(); attempt++) {
    if (attempt > 200) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function sh(script: string, fds: Parameters<typeof spawnDetached>[2] = [{ pipe: true }]): DetachedChild {
  return spawnDetached('/bin/sh', ['-c', script], fds);
}

describe('spawnDetached', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-spawn-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the child /dev/null on 0 and 1, new pipes and our descriptors from 2 on, in a session of its own', async () => {
    const passed = openSync(join(dir, 'passed'), 'w');
    try {
      const child = sh('echo report >&3; echo passed >&4; echo diagnostics >&2; exec sleep 5', [
        { pipe: true },
        { pipe: true },
        { fd: passed },
      ]);
      const stderr = text(child.pipes.get(2));
      const report = text(child.pipes.get(3));
      // Looked at from outside, while it sleeps.
      await waitFor(() => readFileSync(join(dir, 'passed'), 'utf8') === 'passed\n');
      expect(readlinkSync(`/proc/${child.pid}/fd/0`)).toBe('/dev/null');
      expect(readlinkSync(`/proc/${child.pid}/fd/1`)).toBe('/dev/null');
      expect(readlinkSync(`/proc/${child.pid}/fd/2`)).toMatch(/^pipe:/);
      expect(readlinkSync(`/proc/${child.pid}/fd/4`)).toBe(join(dir, 'passed'));
      expect(readlinkSync(`/proc/${child.pid}/cwd`)).toBe(process.cwd());
      // Field 6 of stat is the session id: its own pid after setsid.
      expect(readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[3]).toBe(String(child.pid));
      process.kill(child.pid, 'SIGTERM');
      expect(await child.exited).toEqual({ code: null, signal: 'SIGTERM' });
      expect(await stderr).toBe('diagnostics\n');
      expect(await report).toBe('report\n');
    } finally {
      closeSync(passed);
    }
  });

  it('passes descriptors whose numbers are the targets of others', async () => {
    // Opened first, these get low numbers; with 2 new pipes in front, fd 4 and 5 are also targets.
    const a = openSync(join(dir, 'a'), 'w');
    const b = openSync(join(dir, 'b'), 'w');
    try {
      const child = sh('echo to-a >&4; echo to-b >&5', [{ pipe: true }, { pipe: true }, { fd: a }, { fd: b }]);
      child.pipes.forEach((pipe) => pipe.resume());
      expect(await child.exited).toEqual({ code: 0, signal: null });
      expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('to-a\n');
      expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('to-b\n');
    } finally {
      closeSync(a);
      closeSync(b);
    }
  });

  it('passes our own low descriptors to higher ones while new pipes take their numbers', async () => {
    // Our fd 2 goes to the child's fd 4, while the child's fd 2 is a new pipe: a plain dup2 in
    // order would overwrite our 2 before it is passed on.
    const child = sh('exec sleep 5', [{ pipe: true }, { pipe: true }, { fd: 2 }]);
    try {
      await waitFor(() => existsSync(`/proc/${child.pid}/fd/4`));
      expect(readlinkSync(`/proc/${child.pid}/fd/4`)).toBe(readlinkSync('/proc/self/fd/2'));
      expect(readlinkSync(`/proc/${child.pid}/fd/2`)).toMatch(/^pipe:/);
      expect(readlinkSync(`/proc/${child.pid}/fd/2`)).not.toBe(readlinkSync('/proc/self/fd/2'));
    } finally {
      process.kill(child.pid, 'SIGKILL');
      await child.exited;
    }
  });

  it('reports the exit code or the signal, and reaps the child', async () => {
    const failed = sh('exit 7');
    failed.pipes.get(2)?.resume();
    expect(await failed.exited).toEqual({ code: 7, signal: null });
    expect(existsSync(`/proc/${failed.pid}`)).toBe(false);

    const killed = sh('sleep 30');
    killed.pipes.get(2)?.resume();
    process.kill(killed.pid, 'SIGKILL');
    expect(await killed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(existsSync(`/proc/${killed.pid}`)).toBe(false);
  });

  it('sees every child of a crowd that ends at once', async () => {
    const crowd = Array.from({ length: 20 }, (_, index) => sh(`sleep 0.2; exit ${index}`));
    for (const child of crowd) child.pipes.get(2)?.resume();
    const exits = await Promise.all(crowd.map((child) => child.exited));
    expect(exits.map((exit) => exit.code)).toEqual(crowd.map((_, index) => index));
    for (const child of crowd) expect(existsSync(`/proc/${child.pid}`)).toBe(false);
  });

  it('fails with the errno for a program that cannot run, and leaves no descriptor open', () => {
    const before = readdirSync('/proc/self/fd').length;
    let error: unknown;
    try {
      spawnDetached(join(dir, 'missing'), [], [{ pipe: true }, { pipe: true }]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SysError);
    expect((error as SysError).code).toBe('ENOENT');
    expect(readdirSync('/proc/self/fd').length).toBe(before);
  });
});
