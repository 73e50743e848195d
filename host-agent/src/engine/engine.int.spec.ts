import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BusyboxImage,
  buildBusyboxImage,
  busyboxRootfsTar,
  packEntries,
} from '../../../test/support/busybox-image.js';
import { uniqueNetwork } from '../../../test/support/unique-network.js';
import { createLogger } from '../logger.js';
import { type RunningEngine, startEngine } from './engine.js';

const run = promisify(execFile);

/** The engine as a user meets it: the real docker CLI on its socket. */
describe('the standalone engine', () => {
  let root: string;
  let engine: RunningEngine;
  const docker = async (...args: string[]) =>
    (await run('docker', args, { env: { ...process.env, DOCKER_HOST: `unix://${engine.socketPath}` } })).stdout.trim();

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('the engine tests need root');
    root = await mkdtemp(join(tmpdir(), 'skiff-engine-'));
    engine = await startEngine({
      root,
      socketPath: join(root, 'docker.sock'),
      version: '0.0.0-test',
      logger: createLogger({ level: 'error', write: () => undefined }),
      // A bridge and nftables table of its own (the defaults would be the host's skiff0 and `skiff`).
      network: uniqueNetwork(),
    });
  });
  afterAll(async () => {
    await engine?.removeNetworks().catch(() => undefined);
    await engine?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves the Engine API on a root-only socket', async () => {
    expect((await stat(engine.socketPath)).mode & 0o777).toBe(0o600);
    expect(await docker('version', '--format', '{{.Server.APIVersion}}')).toBe('1.41');
  });

  it('creates, lists, inspects and removes a named volume with docker volume', async () => {
    expect(await docker('volume', 'create', '--label', 'team=web', 'site-data')).toBe('site-data');
    expect(await docker('volume', 'ls', '--filter', 'label=team=web', '--format', '{{.Name}}')).toBe('site-data');
    const mountpoint = await docker('volume', 'inspect', '--format', '{{.Mountpoint}}', 'site-data');
    expect(mountpoint).toBe(join(root, 'volumes', 'site-data', '_data'));
    expect(await docker('volume', 'rm', 'site-data')).toBe('site-data');
    expect(await docker('volume', 'ls', '--quiet')).toBe('');
  });

  it('answers a missing volume with a 404 the CLI reports', async () => {
    await expect(docker('volume', 'inspect', 'nope')).rejects.toThrow(/no such volume/i);
  });

  it('refuses a bad volume name with the reason', async () => {
    await expect(docker('volume', 'create', 'bad name')).rejects.toThrow(/volume name/i);
  });

  describe('images', () => {
    let busybox: BusyboxImage;
    let oci: BusyboxImage;

    beforeAll(async () => {
      busybox = await buildBusyboxImage({ format: 'docker-save', tag: 'busybox:latest' });
      oci = await buildBusyboxImage({ format: 'oci-layout', tag: 'busybox:oci', gzipLayer: true });
    });
    afterAll(async () => {
      await busybox?.cleanup();
      await oci?.cleanup();
    });

    it('loads a docker save archive with docker load and lists it', async () => {
      expect(await docker('load', '--input', busybox.archivePath)).toContain('Loaded image: busybox:latest');
      expect(await docker('images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}')).toContain(
        `busybox:latest ${busybox.imageId.slice(7, 19)}`,
      );
    });

    it('loads an OCI layout archive with a gzipped layer', async () => {
      expect(await docker('load', '--input', oci.archivePath)).toMatch(/Loaded image/);
      expect(await docker('image', 'inspect', '--format', '{{.Id}}', 'busybox:oci')).toMatch(/^sha256:[0-9a-f]{64}$/);
    });

    it('inspects, tags and shows the history of an image', async () => {
      expect(await docker('image', 'inspect', '--format', '{{.Id}} {{json .Config.Cmd}}', 'busybox')).toBe(
        `${busybox.imageId} ["sh"]`,
      );
      await docker('tag', 'busybox', 'registry.local:5000/tools/busybox:1.0');
      expect(await docker('images', '--filter', 'reference=registry.local:5000/*/*', '--format', '{{.Tag}}')).toBe(
        '1.0',
      );
      expect((await docker('history', '--quiet', 'busybox')).split('\n').length).toBeGreaterThanOrEqual(1);
    });

    it('saves an image that loads again, and removes it with rmi', async () => {
      const archive = join(root, 'saved.tar');
      await docker('save', '--output', archive, 'registry.local:5000/tools/busybox:1.0');
      expect(await docker('rmi', 'registry.local:5000/tools/busybox:1.0')).toContain(
        'Untagged: registry.local:5000/tools/busybox:1.0',
      );
      expect(await docker('load', '--input', archive)).toContain('Loaded image: registry.local:5000/tools/busybox:1.0');
    });

    it('imports a rootfs tar as a one-layer image', async () => {
      const rootfs = join(root, 'rootfs.tar');
      await writeFile(rootfs, await busyboxRootfsTar());
      const id = await docker('import', '--change', 'CMD ["sh"]', rootfs, 'imported:1');
      expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(
        await docker('image', 'inspect', '--format', '{{len .RootFS.Layers}} {{json .Config.Cmd}}', 'imported:1'),
      ).toBe('1 ["sh"]');
    });

    it('refuses an archive with a layer that writes outside its target, and keeps nothing of it', async () => {
      const evil = join(root, 'evil.tar');
      await writeFile(evil, await packEntries([{ header: { name: '../../escaped', type: 'file' }, body: 'x' }]));
      await expect(docker('import', evil, 'evil:1')).rejects.toThrow(/\.\./);
      await expect(docker('image', 'inspect', 'evil:1')).rejects.toThrow(/No such image/i);
      await expect(stat(join(root, '..', 'escaped'))).rejects.toThrow();
    });

    it('answers a missing image with 404 No such image', async () => {
      await expect(docker('image', 'inspect', 'nothere:1')).rejects.toThrow(/No such image/i);
    });
  });
});
