import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentVersion } from '../agent-version.js';
import { collectInventory, parseOsRelease, type InventorySources } from './inventory.js';

const DEBIAN_OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
HOME_URL="https://www.debian.org/"
`;

describe(collectInventory.name, () => {
  let base: string;
  let sources: InventorySources;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'skiff-inventory-'));
    await mkdir(join(base, 'etc'));
    await mkdir(join(base, 'usr-lib'));
    await mkdir(join(base, 'cgroup'));
    sources = {
      osReleaseFiles: [join(base, 'etc', 'os-release'), join(base, 'usr-lib', 'os-release')],
      cgroupRoot: join(base, 'cgroup'),
      meminfoFile: join(base, 'meminfo'),
    };
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('names the OS by PRETTY_NAME from /etc/os-release', async () => {
    await writeFile(sources.osReleaseFiles[0], DEBIAN_OS_RELEASE);

    expect((await collectInventory(sources)).os).toBe('Debian GNU/Linux 12 (bookworm)');
  });

  it('falls back to /usr/lib/os-release', async () => {
    await writeFile(sources.osReleaseFiles[1], 'PRETTY_NAME="Fedora Linux 41"\n');

    expect((await collectInventory(sources)).os).toBe('Fedora Linux 41');
  });

  it('falls back to the kernel name without any os-release file', async () => {
    expect((await collectInventory(sources)).os).toBe(os.type());
  });

  it('reports cgroup v2 when the unified hierarchy is mounted', async () => {
    await writeFile(join(sources.cgroupRoot, 'cgroup.controllers'), 'cpu io memory pids\n');

    expect((await collectInventory(sources)).cgroupVersion).toBe('v2');
  });

  it('reports cgroup v1 when there is no cgroup.controllers at the root', async () => {
    await mkdir(join(sources.cgroupRoot, 'memory'));

    expect((await collectInventory(sources)).cgroupVersion).toBe('v1');
  });

  it('describes the machine and the agent', async () => {
    const inventory = await collectInventory(sources, base, '9.9.9');

    expect(inventory).toEqual({
      hostname: os.hostname(),
      os: os.type(),
      kernel: os.release(),
      architecture: process.arch,
      cpus: os.availableParallelism(),
      memoryBytes: os.totalmem(),
      cgroupVersion: 'v1',
      agentVersion: '9.9.9',
      usage: undefined,
    });
  });

  it('reports memory available, the disk under the state root and the load', async () => {
    await writeFile(
      sources.meminfoFile,
      'MemTotal:       16000000 kB\nMemFree:         1000 kB\nMemAvailable:    4000000 kB\n',
    );
    const disk = await statfs(base);

    const { usage } = await collectInventory(sources, base);

    expect(usage).toEqual({
      memoryAvailableBytes: 4_000_000 * 1024,
      diskTotalBytes: disk.blocks * disk.bsize,
      diskFreeBytes: expect.any(Number) as number,
      load1: expect.any(Number) as number,
    });
    expect(usage!.diskFreeBytes).toBeGreaterThan(0);
    expect(usage!.diskFreeBytes).toBeLessThanOrEqual(usage!.diskTotalBytes);
  });

  it('reports no usage when it cannot be read, and the rest all the same', async () => {
    const inventory = await collectInventory(sources, join(base, 'no-such-root'));
    expect(inventory.usage).toBeUndefined();
    expect(inventory.hostname).toBe(os.hostname());
  });

  it("reports the host-agent package's version by default", async () => {
    expect((await collectInventory(sources)).agentVersion).toBe(agentVersion());
    expect(agentVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe(parseOsRelease.name, () => {
  it('reads quoted and unquoted values and skips comments and blank lines', () => {
    expect(parseOsRelease('# comment\n\nID=debian\nNAME="Debian GNU/Linux"\nVARIANT=\'Server Edition\'\n')).toEqual({
      ID: 'debian',
      NAME: 'Debian GNU/Linux',
      VARIANT: 'Server Edition',
    });
  });

  it('undoes shell escapes inside double quotes', () => {
    expect(parseOsRelease('PRETTY_NAME="My \\"Quoted\\" \\$OS \\\\ 1"')['PRETTY_NAME']).toBe('My "Quoted" $OS \\ 1');
  });
});
