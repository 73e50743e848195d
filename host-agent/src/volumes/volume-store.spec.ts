import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordingVolumeMounter } from './recording-volume-mounter.js';
import { copyTreeContents, type TreeCopier } from './tree-copy.js';
import { ANONYMOUS_LABEL } from './volume-name.js';
import { parseVolumeRecord, serialiseVolumeRecord } from './volume-record.js';
import { VolumeStore, type VolumeStoreOptions } from './volume-store.js';

const isRoot = process.getuid?.() === 0;
const CREATED = new Date('2025-03-04T05:06:07.890Z');

describe(VolumeStore.name, () => {
  let base: string;
  let root: string;
  let mounter: RecordingVolumeMounter;
  let users: Map<string, string[]>;
  let store: VolumeStore;

  const open = (options: Partial<VolumeStoreOptions> = {}) =>
    VolumeStore.open({
      root,
      mounter,
      usedBy: (name) => users.get(name) ?? [],
      now: () => CREATED,
      ...options,
    });
  const volumes = () => join(root, 'volumes');
  const data = (name: string) => join(root, 'volumes', name, '_data');
  const record = async (name: string) => {
    const path = join(root, 'volumes', name, 'volume.json');
    return parseVolumeRecord(await readFile(path, 'utf8'), path);
  };

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'skiff-volumes-'));
    root = join(base, 'state');
    mounter = new RecordingVolumeMounter();
    users = new Map();
    store = await open();
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  describe('create', () => {
    it('creates a named volume as the Engine API shows it', async () => {
      const volume = await store.create({ name: 'pgdata', labels: { tier: 'db' } });

      expect(volume).toEqual({
        CreatedAt: '2025-03-04T05:06:07Z',
        Driver: 'local',
        Labels: { tier: 'db' },
        Mountpoint: data('pgdata'),
        Name: 'pgdata',
        Options: {},
        Scope: 'local',
      });
    });

    it('makes a 0755 data directory owned by root and 0600 metadata', async () => {
      await store.create({ name: 'pgdata' });

      const directory = await stat(data('pgdata'));
      expect(directory.isDirectory()).toBe(true);
      expect(directory.mode & 0o7777).toBe(0o755);
      if (isRoot) expect([directory.uid, directory.gid]).toEqual([0, 0]);
      expect((await stat(join(volumes(), 'pgdata', 'volume.json'))).mode & 0o777).toBe(0o600);
      expect(await readdir(join(volumes(), 'pgdata'))).toEqual(['_data', 'volume.json']);
    });

    it('keeps driver options and shows them as Options', async () => {
      const volume = await store.create({
        name: 'cache',
        driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=100m,uid=1000' },
      });

      expect(volume.Options).toEqual({ type: 'tmpfs', device: 'tmpfs', o: 'size=100m,uid=1000' });
      expect((await store.inspect('cache')).Options).toEqual(volume.Options);
    });

    it('gives a volume without a name a 64-hex name and the anonymous label', async () => {
      const volume = await store.create({ labels: { owner: 'web' } });

      expect(volume.Name).toMatch(/^[0-9a-f]{64}$/);
      expect(volume.Labels).toEqual({ owner: 'web', [ANONYMOUS_LABEL]: '' });
      expect(await store.inspect(volume.Name)).toEqual(volume);
    });

    it('treats an empty name as no name', async () => {
      expect((await store.create({ name: '' })).Name).toMatch(/^[0-9a-f]{64}$/);
    });

    it('returns the existing volume when it is created again', async () => {
      const first = await store.create({ name: 'pgdata', labels: { tier: 'db' } });
      const later = await open({ now: () => new Date('2030-01-01T00:00:00Z') });

      expect(await later.create({ name: 'pgdata', labels: { tier: 'db' } })).toEqual(first);
    });

    it('returns the existing volume when docker run -v creates it again without its options', async () => {
      const first = await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });

      expect(await store.create({ name: 'cache' })).toEqual(first);
    });

    it('refuses an existing name with another driver as a conflict', async () => {
      await store.create({ name: 'pgdata' });

      await expect(store.create({ name: 'pgdata', driver: 'rexray' })).rejects.toMatchObject({
        kind: 'conflict',
        message: 'cannot create volume pgdata with driver rexray: it exists with driver local',
      });
    });

    it('refuses an unknown driver, naming it, and writes nothing', async () => {
      await expect(store.create({ name: 'pgdata', driver: 'rexray' })).rejects.toMatchObject({
        kind: 'invalid-argument',
        message: 'unknown volume driver "rexray": only local is available',
      });
      expect(await readdir(volumes())).toEqual([]);
    });

    it('refuses an invalid name and writes nothing', async () => {
      await expect(store.create({ name: '../escape' })).rejects.toMatchObject({ kind: 'invalid-argument' });
      expect(await readdir(volumes())).toEqual([]);
      expect(await readdir(base)).toEqual(['state']);
    });

    it('refuses bad driver options and writes nothing', async () => {
      await expect(store.create({ name: 'cache', driverOpts: { type: 'tmpfs' } })).rejects.toMatchObject({
        kind: 'invalid-argument',
      });
      expect(await readdir(volumes())).toEqual([]);
    });

    it('refuses a bind of a directory that does not exist', async () => {
      const missing = join(base, 'missing');

      await expect(
        store.create({ name: 'srv', driverOpts: { type: 'none', o: 'bind', device: missing } }),
      ).rejects.toMatchObject({
        kind: 'invalid-argument',
        message: `invalid options for volume srv: bind device ${missing} does not exist`,
      });
      expect(await readdir(volumes())).toEqual([]);
    });

    it('refuses a bind of a file', async () => {
      await writeFile(join(base, 'file'), 'x');

      await expect(
        store.create({ name: 'srv', driverOpts: { type: 'none', o: 'bind', device: join(base, 'file') } }),
      ).rejects.toThrow(/is not a directory/);
    });

    it('refuses labels that are not strings, as a JSON body may hold', async () => {
      const labels = { tier: 3 } as unknown as Record<string, string>;

      await expect(store.create({ name: 'pgdata', labels })).rejects.toMatchObject({
        kind: 'invalid-argument',
        message: 'invalid labels of volume pgdata: the value of "tier" is not a string',
      });
    });

    it('does not mount at creation', async () => {
      await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });

      expect(mounter.calls).toEqual([]);
    });
  });

  describe('inspect', () => {
    it('answers not found, naming the volume', async () => {
      await expect(store.inspect('nope')).rejects.toMatchObject({ kind: 'not-found', message: 'no such volume: nope' });
    });

    it('answers not found for a name that would lead out of the store', async () => {
      await mkdir(join(base, 'outside'));
      await writeFile(join(base, 'outside', 'volume.json'), serialiseVolumeRecord(sampleRecord('outside')));

      await expect(store.inspect('../../outside')).rejects.toMatchObject({ kind: 'not-found' });
    });
  });

  describe('list', () => {
    beforeEach(async () => {
      await store.create({ name: 'app_db', labels: { project: 'app', tier: 'db' } });
      await store.create({ name: 'app_cache', labels: { project: 'app' } });
      await store.create({ name: 'other' });
      users.set('app_db', ['c0ffee']);
    });
    const names = async (filters?: Record<string, string[]>) =>
      (await store.list(filters)).Volumes.map((volume) => volume.Name);

    it('lists every volume by name, with no warnings', async () => {
      const listed = await store.list();

      expect(listed.Volumes.map((volume) => volume.Name)).toEqual(['app_cache', 'app_db', 'other']);
      expect(listed.Warnings).toEqual([]);
    });

    it('filters by name, label, driver and dangling', async () => {
      expect(await names({ name: ['app'] })).toEqual(['app_cache', 'app_db']);
      expect(await names({ label: ['project=app'] })).toEqual(['app_cache', 'app_db']);
      expect(await names({ label: ['tier'] })).toEqual(['app_db']);
      expect(await names({ driver: ['local'] })).toEqual(['app_cache', 'app_db', 'other']);
      expect(await names({ dangling: ['true'] })).toEqual(['app_cache', 'other']);
      expect(await names({ dangling: ['false'] })).toEqual(['app_db']);
    });

    it('counts a volume mounted for a container as used', async () => {
      await store.mountFor('other', 'beef');

      expect(await names({ dangling: ['true'] })).toEqual(['app_cache']);
    });

    it('refuses an unknown filter', async () => {
      await expect(store.list({ size: ['1'] })).rejects.toMatchObject({ kind: 'invalid-argument' });
    });

    it('leaves out a volume whose metadata is broken and says so', async () => {
      await writeFile(join(volumes(), 'other', 'volume.json'), '{broken');

      const listed = await store.list();

      expect(listed.Volumes.map((volume) => volume.Name)).toEqual(['app_cache', 'app_db']);
      expect(listed.Warnings).toEqual([expect.stringContaining('volume other left out: cannot read volume metadata')]);
    });

    it('ignores a directory whose creation never finished', async () => {
      await mkdir(join(volumes(), 'half', '_data'), { recursive: true });

      expect(await names()).toEqual(['app_cache', 'app_db', 'other']);
    });
  });

  describe('remove', () => {
    it('removes the volume and its data', async () => {
      await store.create({ name: 'pgdata' });
      await writeFile(join(data('pgdata'), 'table'), 'rows');

      await store.remove('pgdata');

      expect(await readdir(volumes())).toEqual([]);
      await expect(store.inspect('pgdata')).rejects.toMatchObject({ kind: 'not-found' });
    });

    it('answers not found for a missing volume, and nothing with force', async () => {
      await expect(store.remove('nope')).rejects.toMatchObject({ kind: 'not-found', message: 'no such volume: nope' });
      await expect(store.remove('nope', { force: true })).resolves.toBeUndefined();
      await expect(store.remove('../bad', { force: true })).resolves.toBeUndefined();
    });

    it('refuses a volume containers use, naming them, even with force', async () => {
      await store.create({ name: 'pgdata' });
      users.set('pgdata', ['3f2a01', '9b1c02']);

      const expected = {
        kind: 'conflict',
        message: 'cannot remove volume pgdata: it is in use by container 3f2a01, 9b1c02',
      };
      await expect(store.remove('pgdata')).rejects.toMatchObject(expected);
      await expect(store.remove('pgdata', { force: true })).rejects.toMatchObject(expected);
      expect((await store.inspect('pgdata')).Name).toBe('pgdata');
    });

    it('refuses a volume mounted for a container', async () => {
      await store.create({ name: 'pgdata' });
      await store.mountFor('pgdata', 'c1');

      await expect(store.remove('pgdata')).rejects.toMatchObject({
        kind: 'conflict',
        message: expect.stringContaining('c1'),
      });

      await store.unmountFor('pgdata', 'c1');
      await store.remove('pgdata');
      expect(await readdir(volumes())).toEqual([]);
    });

    it('never deletes recursively through a device volume: content seen in _data stays', async () => {
      const device = join(base, 'srv');
      await mkdir(device);
      await store.create({ name: 'srv', driverOpts: { type: 'none', o: 'bind', device } });
      // As if the bind were still mounted without the store knowing: the user's files show in _data.
      await writeFile(join(data('srv'), 'precious'), 'user data');

      await expect(store.remove('srv')).rejects.toThrow(/is still mounted/);
      expect(await readFile(join(data('srv'), 'precious'), 'utf8')).toBe('user data');
    });

    it('unmounts a device volume the previous agent left mounted before removing it', async () => {
      await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
      mounter.mounted.add(data('cache'));
      const restarted = await open();

      await restarted.remove('cache');

      expect(mounter.calls).toEqual([{ call: 'unmount', target: data('cache') }]);
      expect(await readdir(volumes())).toEqual([]);
    });
  });

  describe('prune', () => {
    let anonymous: string;

    beforeEach(async () => {
      anonymous = (await store.create({})).Name;
      await writeFile(join(data(anonymous), 'blob'), Buffer.alloc(3000));
      await store.create({ name: 'named', labels: { keep: 'yes' } });
      await writeFile(join(data('named'), 'blob'), Buffer.alloc(500));
      await store.create({ name: 'used', labels: { keep: 'no' } });
      users.set('used', ['c1']);
    });

    it('removes unused anonymous volumes only, by default', async () => {
      expect(await store.prune()).toEqual({ VolumesDeleted: [anonymous], SpaceReclaimed: 3000 });
      expect((await store.list()).Volumes.map((volume) => volume.Name)).toEqual(['named', 'used']);
    });

    it('removes unused named volumes too with all=true, never used ones', async () => {
      const report = await store.prune({ all: ['true'] });

      expect(report.VolumesDeleted.sort()).toEqual([anonymous, 'named'].sort());
      expect(report.SpaceReclaimed).toBe(3500);
      expect((await store.list()).Volumes.map((volume) => volume.Name)).toEqual(['used']);
    });

    it('narrows by label', async () => {
      expect(await store.prune({ all: ['true'], label: ['keep=yes'] })).toEqual({
        VolumesDeleted: ['named'],
        SpaceReclaimed: 500,
      });
      expect((await store.prune({ all: ['true'], 'label!': ['keep'] })).VolumesDeleted).toEqual([anonymous]);
    });

    it('leaves volumes mounted from a device alone, as Docker does', async () => {
      const tmpfs = (await store.create({ driverOpts: { type: 'tmpfs', device: 'tmpfs' } })).Name;

      await store.prune({ all: ['true'] });

      expect((await store.inspect(tmpfs)).Name).toBe(tmpfs);
    });

    it('refuses bad filters before removing anything', async () => {
      await expect(store.prune({ dangling: ['true'] })).rejects.toMatchObject({ kind: 'invalid-argument' });
      expect((await store.list()).Volumes).toHaveLength(3);
    });
  });

  describe('mountFor and unmountFor', () => {
    beforeEach(async () => {
      await store.create({
        name: 'cache',
        driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,noexec,uid=1000' },
      });
    });

    it('mounts for the first container and unmounts after the last', async () => {
      expect(await store.mountFor('cache', 'c1')).toBe(data('cache'));
      await store.mountFor('cache', 'c2');
      expect(mounter.calls).toEqual([
        {
          call: 'mount',
          source: 'tmpfs',
          target: data('cache'),
          fstype: 'tmpfs',
          flags: ['noexec'],
          data: 'size=1m,uid=1000',
        },
      ]);

      await store.unmountFor('cache', 'c1');
      expect(mounter.mounted.has(data('cache'))).toBe(true);

      await store.unmountFor('cache', 'c2');
      expect(mounter.mounted.has(data('cache'))).toBe(false);
      expect(mounter.calls.map((call) => call.call)).toEqual(['mount', 'unmount']);
    });

    it('counts the same container once', async () => {
      await store.mountFor('cache', 'c1');
      await store.mountFor('cache', 'c1');

      await store.unmountFor('cache', 'c1');

      expect(mounter.mounted.size).toBe(0);
    });

    it('mounts again for a container after the last one left', async () => {
      await store.mountFor('cache', 'c1');
      await store.unmountFor('cache', 'c1');
      await store.mountFor('cache', 'c2');

      expect(mounter.calls.map((call) => call.call)).toEqual(['mount', 'unmount', 'mount']);
    });

    it('ignores an unmount for a container that holds nothing', async () => {
      await store.unmountFor('cache', 'stranger');
      await store.mountFor('cache', 'c1');
      await store.unmountFor('cache', 'stranger');

      expect(mounter.mounted.size).toBe(1);
    });

    it('mounts nothing for a plain volume but still counts its containers', async () => {
      await store.create({ name: 'plain' });

      expect(await store.mountFor('plain', 'c1')).toBe(data('plain'));

      expect(mounter.calls).toEqual([]);
      await expect(store.remove('plain')).rejects.toMatchObject({ kind: 'conflict' });
    });

    it('holds nothing when the mount fails, and says which volume', async () => {
      mounter.failNext('mount', Object.assign(new Error('ENODEV: no such filesystem'), { code: 'ENODEV' }));

      await expect(store.mountFor('cache', 'c1')).rejects.toThrow(
        `cannot mount volume cache (tmpfs tmpfs) at ${data('cache')}: ENODEV: no such filesystem`,
      );
      expect((await store.list({ dangling: ['true'] })).Volumes.map((volume) => volume.Name)).toEqual(['cache']);
    });

    it('keeps the container holding the volume when the unmount fails, so it can try again', async () => {
      await store.mountFor('cache', 'c1');
      mounter.failNext('unmount', Object.assign(new Error('EBUSY: target is busy'), { code: 'EBUSY' }));

      await expect(store.unmountFor('cache', 'c1')).rejects.toThrow(/cannot unmount volume cache .*EBUSY/);
      expect(mounter.mounted.size).toBe(1);

      await store.unmountFor('cache', 'c1');
      expect(mounter.mounted.size).toBe(0);
    });

    it('answers not found for a missing volume', async () => {
      await expect(store.mountFor('nope', 'c1')).rejects.toMatchObject({ kind: 'not-found' });
    });

    it('takes over a mount left by the previous agent instead of mounting twice', async () => {
      mounter.mounted.add(data('cache'));
      const restarted = await open();

      await restarted.mountFor('cache', 'c1');
      await restarted.unmountFor('cache', 'c1');

      expect(mounter.calls).toEqual([{ call: 'unmount', target: data('cache') }]);
    });
  });

  describe('populateFromImage', () => {
    let image: string;

    beforeEach(async () => {
      image = join(base, 'rootfs', 'var', 'lib', 'app');
      await mkdir(join(image, 'conf'), { recursive: true });
      await writeFile(join(image, 'conf', 'app.ini'), 'port=80\n');
      await writeFile(join(image, 'tool'), '#!/bin/sh\n');
      await chmod(join(image, 'tool'), 0o4755);
      await chmod(image, 0o750);
      await store.create({ name: 'app' });
    });

    it('copies the image directory into a new, empty volume', async () => {
      const result = await store.populateFromImage('app', image);

      expect(result).toEqual({ outcome: 'copied', skippedEntries: [] });
      expect(await readFile(join(data('app'), 'conf', 'app.ini'), 'utf8')).toBe('port=80\n');
      expect((await stat(join(data('app'), 'tool'))).mode & 0o7777).toBe(0o4755);
      expect((await record('app')).populated).toBe(true);
      expect(await readdir(join(volumes(), 'app'))).toEqual(['_data', 'volume.json']);
    });

    it('gives the volume the mode of the image directory', async () => {
      await store.populateFromImage('app', image);

      expect((await stat(data('app'))).mode & 0o7777).toBe(0o750);
    });

    it.runIf(isRoot)('keeps ownership, of the volume itself too', async () => {
      await chown(image, 999, 999);
      await chown(join(image, 'conf', 'app.ini'), 1000, 1001);

      await store.populateFromImage('app', image);

      const [volumeRoot, file] = await Promise.all([stat(data('app')), stat(join(data('app'), 'conf', 'app.ini'))]);
      expect([volumeRoot.uid, volumeRoot.gid]).toEqual([999, 999]);
      expect([file.uid, file.gid]).toEqual([1000, 1001]);
    });

    it('copies a symlink pointing outside the image as a link, not what it points to', async () => {
      const hostSecret = join(base, 'host-secret');
      await writeFile(hostSecret, 'secret');
      await symlink(hostSecret, join(image, 'escape'));
      await symlink('../../../../../', join(image, 'up'));

      await store.populateFromImage('app', image);

      expect((await lstat(join(data('app'), 'escape'))).isSymbolicLink()).toBe(true);
      expect(await readlink(join(data('app'), 'escape'))).toBe(hostSecret);
      expect(await readlink(join(data('app'), 'up'))).toBe('../../../../../');
    });

    it('does not follow a symlink standing for the image directory itself', async () => {
      const link = join(base, 'rootfs', 'link');
      await symlink(image, link);

      expect(await store.populateFromImage('app', link)).toEqual({ outcome: 'no-source', skippedEntries: [] });
      expect(await readdir(data('app'))).toEqual([]);
    });

    it('copies only once', async () => {
      await store.populateFromImage('app', image);
      await rm(join(data('app'), 'conf'), { recursive: true });

      expect(await store.populateFromImage('app', image)).toEqual({ outcome: 'already-populated', skippedEntries: [] });
      expect(await readdir(data('app'))).toEqual(['tool']);
    });

    it('copies nothing into a volume that holds data, and never will', async () => {
      await writeFile(join(data('app'), 'mine'), 'x');

      expect(await store.populateFromImage('app', image)).toEqual({ outcome: 'not-empty', skippedEntries: [] });
      expect(await readdir(data('app'))).toEqual(['mine']);
      expect((await record('app')).populated).toBe(true);
    });

    it('leaves the volume eligible when the image has nothing at the path', async () => {
      expect((await store.populateFromImage('app', join(base, 'rootfs', 'missing'))).outcome).toBe('no-source');
      expect((await record('app')).populated).toBe(false);

      expect((await store.populateFromImage('app', image)).outcome).toBe('copied');
    });

    it('gives an empty image directory its mode to the volume', async () => {
      const empty = join(base, 'rootfs', 'empty');
      await mkdir(empty, { mode: 0o700 });
      await chmod(empty, 0o1777);

      expect((await store.populateFromImage('app', empty)).outcome).toBe('copied');
      expect((await stat(data('app'))).mode & 0o7777).toBe(0o1777);
    });

    it('leaves the volume empty and unpopulated when the copy fails midway', async () => {
      const failing: TreeCopier = async (_source, target) => {
        await mkdir(join(target, 'conf'));
        await writeFile(join(target, 'conf', 'app.ini'), 'port=');
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      };
      const broken = await open({ copyTree: failing });

      await expect(broken.populateFromImage('app', image)).rejects.toThrow(
        `cannot populate volume app from ${image}: ENOSPC: no space left on device`,
      );

      expect(await readdir(data('app'))).toEqual([]);
      expect((await record('app')).populated).toBe(false);
      expect(await readdir(join(volumes(), 'app'))).toEqual(['_data', 'volume.json']);
      expect((await store.populateFromImage('app', image)).outcome).toBe('copied');
    });

    it('drops a half-made copy a crash left behind and copies again', async () => {
      // The agent died mid-copy: no cleanup ran.
      const staging = join(volumes(), 'app', '.populate-0123456789abcdef');
      await mkdir(join(staging, 'conf'), { recursive: true });
      await writeFile(join(staging, 'conf', 'app.ini'), 'po');

      const restarted = await open();
      expect(await readdir(join(volumes(), 'app'))).toEqual(['_data', 'volume.json']);
      expect(await readdir(data('app'))).toEqual([]);
      expect((await record('app')).populated).toBe(false);

      expect((await restarted.populateFromImage('app', image)).outcome).toBe('copied');
      expect(await readFile(join(data('app'), 'conf', 'app.ini'), 'utf8')).toBe('port=80\n');
    });

    it('copies in place into a mounted volume, leaving no staging behind', async () => {
      await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
      await store.mountFor('cache', 'c1');

      expect((await store.populateFromImage('cache', image)).outcome).toBe('copied');

      expect((await readdir(data('cache'))).sort()).toEqual(['conf', 'tool']);
      expect((await stat(data('cache'))).mode & 0o7777).toBe(0o750);
      const saved = await record('cache');
      expect(saved.populated).toBe(true);
      expect(saved.populating).toBeUndefined();
    });

    it('copies in place when another container already holds a plain volume', async () => {
      await store.mountFor('app', 'running');
      await store.mountFor('app', 'starting');
      const before = (await stat(data('app'))).ino;

      expect((await store.populateFromImage('app', image)).outcome).toBe('copied');

      // The running container's bind mount points at this very directory.
      expect((await stat(data('app'))).ino).toBe(before);
      expect((await readdir(data('app'))).sort()).toEqual(['conf', 'tool']);
    });

    it('leaves a mounted volume empty when the in-place copy fails midway', async () => {
      await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
      const failing: TreeCopier = async (source, target) => {
        await copyTreeContents(source, target);
        throw new Error('EIO: i/o error');
      };
      const broken = await open({ copyTree: failing });
      await broken.mountFor('cache', 'c1');

      await expect(broken.populateFromImage('cache', image)).rejects.toThrow(/EIO/);

      expect(await readdir(data('cache'))).toEqual([]);
      expect((await record('cache')).populated).toBe(false);
    });

    it('finishes an in-place copy that a crash interrupted after the copy was complete', async () => {
      await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
      // The state after the journal was written and one entry was moved up.
      const stagingName = '.skiff-populate-00ff';
      await mkdir(join(data('cache'), stagingName, 'conf'), { recursive: true });
      await writeFile(join(data('cache'), stagingName, 'conf', 'app.ini'), 'port=80\n');
      await writeFile(join(data('cache'), 'tool'), '#!/bin/sh\n');
      const journaled = {
        ...(await record('cache')),
        populating: { staging: stagingName, root: { mode: 0o750, uid: 0, gid: 0 } },
      };
      await writeFile(join(volumes(), 'cache', 'volume.json'), serialiseVolumeRecord(journaled));
      mounter.mounted.add(data('cache'));

      const restarted = await open();

      expect((await readdir(data('cache'))).sort()).toEqual(['conf', 'tool']);
      expect(await readFile(join(data('cache'), 'conf', 'app.ini'), 'utf8')).toBe('port=80\n');
      expect((await stat(data('cache'))).mode & 0o7777).toBe(0o750);
      expect((await record('cache')).populated).toBe(true);
      expect((await restarted.populateFromImage('cache', image)).outcome).toBe('already-populated');
    });

    it('drops an in-place copy a crash interrupted before it was complete', async () => {
      await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
      await mkdir(join(data('cache'), '.skiff-populate-0a0a', 'conf'), { recursive: true });
      const restarted = await open();
      await restarted.mountFor('cache', 'c1');

      expect((await restarted.populateFromImage('cache', image)).outcome).toBe('copied');
      expect((await readdir(data('cache'))).sort()).toEqual(['conf', 'tool']);
    });

    it('refuses a device volume that is not mounted', async () => {
      await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });

      await expect(store.populateFromImage('cache', image)).rejects.toThrow(
        /cannot populate volume cache: it is not mounted/,
      );
    });

    it('populates a tmpfs volume again after its content went with the last unmount', async () => {
      await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
      await store.mountFor('cache', 'c1');
      await store.populateFromImage('cache', image);

      await store.unmountFor('cache', 'c1');

      expect((await record('cache')).populated).toBe(false);
    });

    it('keeps a bind volume populated across unmounts', async () => {
      const device = join(base, 'srv');
      await mkdir(device);
      await store.create({ name: 'srv', driverOpts: { type: 'none', o: 'bind', device } });
      await store.mountFor('srv', 'c1');
      await store.populateFromImage('srv', image);

      await store.unmountFor('srv', 'c1');

      expect((await record('srv')).populated).toBe(true);
    });
  });

  describe('diskUsage', () => {
    it('reports each volume with its size and the containers using it', async () => {
      await store.create({ name: 'big' });
      await writeFile(join(data('big'), 'blob'), Buffer.alloc(4096));
      await store.create({ name: 'small' });
      await writeFile(join(data('small'), 'blob'), Buffer.alloc(100));
      await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
      users.set('big', ['c1', 'c2']);

      const usage = await store.diskUsage();

      expect(usage).toMatchObject({ ActiveCount: 1, TotalCount: 3, TotalSize: 4196, Reclaimable: 100 });
      expect(usage.Items.map((item) => [item.Name, item.UsageData])).toEqual([
        ['big', { Size: 4096, RefCount: 2 }],
        ['cache', { Size: -1, RefCount: 0 }],
        ['small', { Size: 100, RefCount: 0 }],
      ]);
    });
  });

  describe('recover', () => {
    it('finishes a removal a crash interrupted', async () => {
      await mkdir(join(volumes(), '.removing-0011', '_data'), { recursive: true });
      await writeFile(join(volumes(), '.removing-0011', '_data', 'left'), 'x');

      await open();

      expect(await readdir(volumes())).toEqual([]);
    });

    it('drops a creation that crashed before its metadata was written', async () => {
      await mkdir(join(volumes(), 'half', '_data'), { recursive: true });
      await writeFile(join(volumes(), 'half', '.volume.json.abcdef.tmp'), '{"fo');

      await open();

      expect(await readdir(volumes())).toEqual([]);
    });

    it('leaves alone a directory without metadata that holds data', async () => {
      await mkdir(join(volumes(), 'odd', '_data'), { recursive: true });
      await writeFile(join(volumes(), 'odd', '_data', 'precious'), 'x');

      await open();

      expect(await readFile(join(volumes(), 'odd', '_data', 'precious'), 'utf8')).toBe('x');
    });

    it('forgets the population of a tmpfs volume that is no longer mounted', async () => {
      await store.create({ name: 'cache', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
      await store.mountFor('cache', 'c1');
      const image = join(base, 'image');
      await mkdir(image);
      await writeFile(join(image, 'seed'), 'x');
      await store.populateFromImage('cache', image);
      mounter.mounted.clear(); // the host rebooted

      await open();

      expect((await record('cache')).populated).toBe(false);
    });
  });
});

function sampleRecord(name: string) {
  return {
    name,
    driver: 'local',
    createdAt: '2025-01-01T00:00:00Z',
    options: {},
    labels: {},
    populated: false,
  };
}
