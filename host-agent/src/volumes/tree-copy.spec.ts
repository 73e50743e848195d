import { execFileSync } from 'node:child_process';
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyTreeContents } from './tree-copy.js';

const isRoot = process.getuid?.() === 0;

describe(copyTreeContents.name, () => {
  let base: string;
  let source: string;
  let target: string;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'skiff-tree-copy-'));
    source = join(base, 'image', 'var', 'lib', 'app');
    target = join(base, 'volume');
    await mkdir(source, { recursive: true });
    await mkdir(target);
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('copies files and directories with their content', async () => {
    await mkdir(join(source, 'conf', 'sites'), { recursive: true });
    await writeFile(join(source, 'conf', 'sites', 'default'), 'listen 80;\n');
    await writeFile(join(source, 'README'), 'hello');

    const report = await copyTreeContents(source, target);

    expect(await readFile(join(target, 'conf', 'sites', 'default'), 'utf8')).toBe('listen 80;\n');
    expect(await readFile(join(target, 'README'), 'utf8')).toBe('hello');
    expect(report).toEqual({ copied: 4, skipped: [] });
  });

  it('keeps modes, including setuid, setgid and sticky bits', async () => {
    await writeFile(join(source, 'tool'), '#!/bin/sh\n');
    await chmod(join(source, 'tool'), 0o4750);
    await mkdir(join(source, 'shared'));
    await chmod(join(source, 'shared'), 0o3770);
    await writeFile(join(source, 'secret'), 'x');
    await chmod(join(source, 'secret'), 0o600);

    await copyTreeContents(source, target);

    expect((await stat(join(target, 'tool'))).mode & 0o7777).toBe(0o4750);
    expect((await stat(join(target, 'shared'))).mode & 0o7777).toBe(0o3770);
    expect((await stat(join(target, 'secret'))).mode & 0o7777).toBe(0o600);
  });

  it.runIf(isRoot)('keeps owners of files, directories and symlinks', async () => {
    await mkdir(join(source, 'data'));
    await chown(join(source, 'data'), 999, 998);
    await writeFile(join(source, 'data', 'db'), 'rows');
    await chown(join(source, 'data', 'db'), 1000, 1001);
    await symlink('db', join(source, 'data', 'current'));
    await lchown(join(source, 'data', 'current'), 1002, 1003);

    await copyTreeContents(source, target);

    expect(await owner(join(target, 'data'))).toEqual([999, 998]);
    expect(await owner(join(target, 'data', 'db'))).toEqual([1000, 1001]);
    expect(await owner(join(target, 'data', 'current'))).toEqual([1002, 1003]);
  });

  it('copies a symlink pointing out of the source as that link, never following it', async () => {
    const outside = join(base, 'host-secret');
    await writeFile(outside, 'do not copy me');
    await mkdir(join(base, 'host-directory'));
    await writeFile(join(base, 'host-directory', 'file'), 'nor me');
    await symlink(outside, join(source, 'absolute'));
    await symlink('../../../../host-directory', join(source, 'relative'));
    await symlink('/etc', join(source, 'etc'));

    await copyTreeContents(source, target);

    expect((await lstat(join(target, 'absolute'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(target, 'absolute'))).toBe(outside);
    expect(await readlink(join(target, 'relative'))).toBe('../../../../host-directory');
    expect(await readlink(join(target, 'etc'))).toBe('/etc');
    expect((await readdir(target)).sort()).toEqual(['absolute', 'etc', 'relative']);
  });

  it('copies a dangling symlink', async () => {
    await symlink('/nowhere/at/all', join(source, 'dangling'));

    await copyTreeContents(source, target);

    expect(await readlink(join(target, 'dangling'))).toBe('/nowhere/at/all');
  });

  it('keeps hard links as links to one copy', async () => {
    await writeFile(join(source, 'a'), 'same');
    await link(join(source, 'a'), join(source, 'b'));

    await copyTreeContents(source, target);

    const [a, b] = await Promise.all([stat(join(target, 'a')), stat(join(target, 'b'))]);
    expect(a.ino).toBe(b.ino);
    expect(a.nlink).toBe(2);
  });

  it('keeps modification times', async () => {
    await writeFile(join(source, 'old'), 'x');
    await utimes(join(source, 'old'), 1_000_000, 1_000_000);
    await mkdir(join(source, 'dir'));
    await writeFile(join(source, 'dir', 'child'), 'y');
    await utimes(join(source, 'dir'), 2_000_000, 2_000_000);

    await copyTreeContents(source, target);

    expect((await stat(join(target, 'old'))).mtimeMs).toBe(1_000_000_000);
    expect((await stat(join(target, 'dir'))).mtimeMs).toBe(2_000_000_000);
  });

  it('skips a FIFO and reports it', async () => {
    await writeFile(join(source, 'regular'), 'x');
    await mkdir(join(source, 'run'));
    execFileSync('mkfifo', [join(source, 'run', 'pipe')]);

    const report = await copyTreeContents(source, target);

    expect(report.skipped).toEqual(['run/pipe']);
    expect(await readdir(join(target, 'run'))).toEqual([]);
  });
});

async function owner(path: string): Promise<[number, number]> {
  const stats = await lstat(path);
  return [stats.uid, stats.gid];
}
