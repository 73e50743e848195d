import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEngine } from '../../../test/support/test-engine.js';

const shimBinary = fileURLToPath(new URL('../../shim/build/skiff-shim', import.meta.url));
const initBinary = fileURLToPath(new URL('../../shim/build/skiff-init', import.meta.url));

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

/**
 * Escapes that worked against container runtimes before, tried from inside real containers.
 * Each must fail and leave the host as it was.
 */
describe('escape attempts from inside a container', () => {
  let fixture: TestEngine;
  let scratch: string;
  const docker = (...args: string[]) => fixture.docker(...args);

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true });
    scratch = await mkdtemp(join(tmpdir(), 'skiff-escape-'));
  });
  afterAll(async () => {
    await fixture?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('gives a container and its execs no descriptor of the agent or shim (CVE-2024-21626 class)', async () => {
    // Only stdio, plus the directory ls itself opens to list.
    const fds = (listing: string) =>
      listing
        .split('\n')
        .map((line) => /\s(\d+) -> (.*)$/.exec(line))
        .filter((match): match is RegExpExecArray => match !== null)
        .map((match) => ({ fd: Number(match[1]), target: match[2] }));
    const own = fds(await docker('run', '--rm', 'busybox', 'ls', '-l', '/proc/self/fd/'));
    expect(own.filter((entry) => entry.fd > 2 && !entry.target.startsWith('/proc/'))).toEqual([]);

    await docker('run', '-d', '--name', 'fd-target', 'busybox', 'sleep', '3600');
    const pid1 = fds(await docker('exec', 'fd-target', 'ls', '-l', '/proc/1/fd/'));
    expect(pid1.map((entry) => entry.fd).sort()).toEqual([0, 1, 2]);
    const exec = fds(await docker('exec', 'fd-target', 'ls', '-l', '/proc/self/fd/'));
    expect(exec.filter((entry) => entry.fd > 2 && !entry.target.startsWith('/proc/'))).toEqual([]);

    // The runc exploit: a working directory through a leaked descriptor lands outside the root.
    for (const fd of [3, 4, 5, 6, 7, 8]) {
      const result = await fixture.dockerAll('run', '--rm', '-w', `/proc/self/fd/${fd}`, 'busybox', 'pwd');
      // Refused, or a directory of the container: never one of the host's, nor its name.
      expect(result.stdout).not.toContain(fixture.root);
      if (result.code !== 0) expect(result.stderr).toMatch(/outside the container|ELOOP|ENOENT/);
      const inExec = await fixture.dockerAll('exec', '-w', `/proc/self/fd/${fd}`, 'fd-target', 'ls', '..');
      expect(inExec.stdout).not.toMatch(/skiff|docker\.sock/);
    }
    await docker('rm', '-f', 'fd-target');
  });

  it('resolves mount targets inside the root filesystem, never through a symlink out of it (CVE-2021-30465 class)', async () => {
    // A bind-mounted host directory holds a symlink to the host's root; a tmpfs is mounted through it.
    const shared = join(scratch, 'shared');
    await mkdir(shared);
    await symlink('/', join(shared, 'up'));
    const hostTarget = `/skiff-escape-${Date.now()}`;
    const inside = await docker(
      'run',
      '--rm',
      '-v',
      `${shared}:/mnt`,
      '--tmpfs',
      `/mnt/up${hostTarget}`,
      'busybox',
      'sh',
      '-c',
      `grep -c " ${hostTarget} " /proc/self/mountinfo; touch ${hostTarget}/written && echo wrote`,
    );
    // The tmpfs went to the container's own /skiff-escape-…, where the symlink resolves inside it.
    expect(inside.split('\n')).toEqual(['1', 'wrote']);
    expect(existsSync(hostTarget)).toBe(false);
    const hostMounts = await readFile('/proc/self/mountinfo', 'utf8');
    expect(hostMounts).not.toContain(` ${hostTarget} `);
  });

  it('keeps the cgroup release_agent out of reach (the cgroup v1 escape)', async () => {
    const out = await fixture.dockerAll(
      'run',
      '--rm',
      'busybox',
      'sh',
      '-c',
      [
        'find /sys/fs/cgroup -name release_agent 2>/dev/null | while read f; do echo x > "$f" 2>/dev/null && echo "wrote $f"; done',
        'mkdir -p /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg 2>/dev/null && echo mounted-cgroup',
        'touch /sys/fs/cgroup/probe 2>/dev/null && echo cgroup-writable',
        'echo done',
      ].join('; '),
    );
    expect(out.stdout.trim()).toBe('done');
  });

  it('cannot overwrite the shim or the init binary from inside (CVE-2019-5736 class)', async () => {
    const before = { shim: await sha256(shimBinary), init: await sha256(initBinary) };
    // With --init the init binary is inside the container: bound read-only.
    const init = await fixture.dockerAll(
      'run',
      '--rm',
      '--init',
      'busybox',
      'sh',
      '-c',
      'echo x > /sbin/docker-init 2>&1 || echo refused; mount -o remount,rw /sbin/docker-init 2>/dev/null && echo remounted',
    );
    expect(init.stdout.trim().split('\n').at(-1)).toBe('refused');

    // A container that tries, for every process it can see, to write through /proc/<pid>/exe
    // while execs come and go (an exec passes through the container's pid namespace).
    await docker(
      'run',
      '-d',
      '--name',
      'exe-writer',
      'busybox',
      'sh',
      '-c',
      'while true; do for p in /proc/[0-9]*; do echo pwned 2>/dev/null > $p/exe && echo "wrote $p" >> /tmp/wrote; done; done',
    );
    for (let attempt = 0; attempt < 15; attempt++) await docker('exec', 'exe-writer', 'true');
    const wrote = await fixture.dockerAll('exec', 'exe-writer', 'cat', '/tmp/wrote');
    expect(wrote.stdout).toBe('');
    await docker('rm', '-f', 'exe-writer');
    expect({ shim: await sha256(shimBinary), init: await sha256(initBinary) }).toEqual(before);
  });

  it('keeps the agent socket and the host out of a container that looks for them', async () => {
    const probe = spawn('docker', ['run', '--rm', 'busybox', 'sh', '-c', 'ls / /run /var/run 2>/dev/null'], {
      env: fixture.env(),
    });
    let listing = '';
    probe.stdout.on('data', (chunk: Buffer) => (listing += chunk.toString()));
    await new Promise((resolve) => probe.once('close', resolve));
    expect(listing).not.toMatch(/docker\.sock|skiff/);
    // On the host the socket is root's alone.
    const socket = await stat(fixture.engine.socketPath);
    expect({ uid: socket.uid, access: socket.mode & 0o077 }).toEqual({ uid: 0, access: 0 });
  });
});
