import { spawn } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar, type Entry } from '../../../test/support/busybox-image.js';
import { TestEngine } from '../../../test/support/test-engine.js';

/** uid:gid of each entry of a tar, by name. */
async function tarOwners(archive: Buffer): Promise<Record<string, string>> {
  const owners: Record<string, string> = {};
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      owners[entry.header.name.replace(/\/$/, '')] = `${entry.header.uid}:${entry.header.gid}`;
      entry.resume();
    }
  })();
  extract.end(archive);
  await done;
  return owners;
}

/** The whole stdout of a docker command, as bytes (a tar). */
function dockerBytes(fixture: TestEngine, ...args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { env: fixture.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(err))));
  });
}

const uidLine = (status: string) => /^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/);

/**
 * The engine started with `--userns-remap=default`, driven with the real docker CLI: container
 * root is an unprivileged host user, and everything the engine stores or hands out agrees.
 */
describe('--userns-remap', () => {
  let fixture: TestEngine;
  let first: number;
  let firstGid: number;
  const docker = (...args: string[]) => fixture.docker(...args);

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true, usernsRemap: 'default' });
    const subuid = (await readFile('/etc/subuid', 'utf8')).split('\n').find((line) => line.startsWith('skiffremap:'));
    const subgid = (await readFile('/etc/subgid', 'utf8')).split('\n').find((line) => line.startsWith('skiffremap:'));
    first = Number(subuid?.split(':')[1]);
    firstGid = Number(subgid?.split(':')[1]);
    const owned = (name: string, extra: Partial<Entry['header']> = {}): Entry['header'] => ({
      name,
      uid: 1000,
      gid: 1000,
      ...extra,
    });
    const rootfs = join(fixture.root, 'owned.tar');
    await writeFile(
      rootfs,
      await busyboxRootfsTar([
        { header: owned('home/', { uid: 0, gid: 0, type: 'directory', mode: 0o755 }) },
        { header: owned('home/app/', { type: 'directory', mode: 0o755 }) },
        { header: owned('home/app/notes', { type: 'file', mode: 0o600 }), body: 'mine\n' },
        { header: owned('data/', { type: 'directory', mode: 0o750 }) },
        { header: owned('data/seed', { type: 'file', mode: 0o644 }), body: 'seed\n' },
      ]),
    );
    await docker('import', '--change', 'CMD ["sh"]', rootfs, 'owned:1');
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('creates the user skiffremap with 65536 subordinate ids, once, and says so in docker info', async () => {
    const lines = (await readFile('/etc/subuid', 'utf8')).split('\n').filter((line) => line.startsWith('skiffremap:'));
    expect(lines).toEqual([`skiffremap:${first}:65536`]);
    expect(first).toBeGreaterThanOrEqual(100000);
    // A second engine on the same host finds the user and its ranges and adds nothing.
    const second = await TestEngine.start({ usernsRemap: 'default' });
    try {
      expect(await readFile('/etc/subuid', 'utf8')).toContain(`skiffremap:${first}:65536`);
      expect(
        (await readFile('/etc/subuid', 'utf8')).split('\n').filter((l) => l.startsWith('skiffremap:')),
      ).toHaveLength(1);
    } finally {
      await second.close();
    }
    const info = JSON.parse(await docker('info', '--format', '{{json .}}')) as {
      SecurityOptions: string[];
      DockerRootDir: string;
    };
    expect(info.SecurityOptions).toContain('name=userns');
    expect(info.DockerRootDir).toBe(join(fixture.root, `${first}.${firstGid}`));
  });

  it('runs container root as an unprivileged host user, and exec joins its user namespace', async () => {
    const id = await docker('run', '-d', 'busybox', 'sleep', '60');
    const pid = await docker('inspect', '--format', '{{.State.Pid}}', id);
    expect(uidLine(await readFile(`/proc/${pid}/status`, 'utf8'))).toEqual([
      `${first}`,
      `${first}`,
      `${first}`,
      `${first}`,
    ]);
    expect(await docker('exec', id, 'sh', '-c', 'id -u; cat /proc/self/uid_map')).toMatch(
      new RegExp(`^0\\n\\s*0\\s+${first}\\s+65536$`),
    );
    expect(await docker('inspect', '--format', '{{.HostConfig.UsernsMode}}', id)).toBe('');
    await docker('rm', '-f', id);
  });

  it('denies container root what host root may do, unless the container runs with --userns=host', async () => {
    const secrets = join(fixture.root, 'host-secrets');
    await mkdir(secrets, { mode: 0o755 });
    await writeFile(join(secrets, 'key'), 'host only\n', { mode: 0o600 });
    const attempt = ['sh', '-c', 'cat /host/key; touch /host/planted'];

    const remapped = await fixture.dockerAll('run', '--rm', '-v', `${secrets}:/host`, 'busybox', ...attempt);
    expect(remapped.code).not.toBe(0);
    expect(remapped.stderr).toMatch(/cat: can't open '\/host\/key': Permission denied/);
    expect(remapped.stderr).toMatch(/touch: \/host\/planted: Permission denied/);
    await expect(lstat(join(secrets, 'planted'))).rejects.toThrow(/ENOENT/);

    const hostRoot = await fixture.dockerAll(
      'run',
      '--rm',
      '--userns=host',
      '-v',
      `${secrets}:/host`,
      'busybox',
      ...attempt,
    );
    expect(hostRoot).toMatchObject({ code: 0, stdout: 'host only\n' });
    expect((await stat(join(secrets, 'planted'))).uid).toBe(0);
  });

  it('stores image and container files with shifted owners, and shows them unshifted inside', async () => {
    const id = await docker(
      'create',
      'owned:1',
      'sh',
      '-c',
      'stat -c "%u:%g %n" /bin/busybox /home/app/notes; cat /home/app/notes; echo new > /made; chown 1000:1000 /made',
    );
    expect(await docker('start', '-a', id)).toBe('0:0 /bin/busybox\n1000:1000 /home/app/notes\nmine');
    const [lower = ''] = (await docker('inspect', '--format', '{{.GraphDriver.Data.LowerDir}}', id)).split(':');
    const upper = await docker('inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', id);
    expect(await stat(join(lower, 'bin/busybox'))).toMatchObject({ uid: first, gid: firstGid });
    expect(await stat(join(lower, 'home/app/notes'))).toMatchObject({ uid: first + 1000, gid: firstGid + 1000 });
    expect(await stat(join(upper, 'made'))).toMatchObject({ uid: first + 1000, gid: firstGid + 1000 });
    await docker('rm', id);
  });

  it('gives volumes to container root, seeded from the image with the image’s owners', async () => {
    const output = await docker(
      'run',
      '--rm',
      '-v',
      'seeded:/data',
      '-v',
      'fresh:/fresh',
      'owned:1',
      'sh',
      '-c',
      'stat -c "%u:%g %a" /data /data/seed /fresh; echo w > /fresh/w; echo d > /data/d; stat -c %u /fresh/w /data/d',
    );
    expect(output.split('\n')).toEqual(['1000:1000 750', '1000:1000 644', '0:0 755', '0', '0']);
    const fresh = await docker('volume', 'inspect', '--format', '{{.Mountpoint}}', 'fresh');
    expect(await stat(join(fresh, 'w'))).toMatchObject({ uid: first, gid: firstGid });
    await docker('volume', 'rm', 'seeded', 'fresh');
  });

  it('copies files in and out, and exports, with the owners the container sees', async () => {
    const id = await docker('create', 'owned:1', 'true');
    const source = join(fixture.root, 'to-copy');
    await writeFile(source, 'copied\n');
    await docker('cp', source, `${id}:/home/app/copied`);
    const upper = await docker('inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', id);
    // Without -a a copy belongs to the container's root, as with dockerd.
    expect(await stat(join(upper, 'home/app/copied'))).toMatchObject({ uid: first, gid: firstGid });

    const out = await tarOwners(await dockerBytes(fixture, 'cp', `${id}:/home/app`, '-'));
    expect(out).toEqual({ app: '1000:1000', 'app/notes': '1000:1000', 'app/copied': '0:0' });
    const exported = await tarOwners(await dockerBytes(fixture, 'export', id));
    expect(exported).toMatchObject({ 'bin/busybox': '0:0', 'home/app/notes': '1000:1000', 'home/app/copied': '0:0' });
    await docker('rm', id);
  });

  it('keeps a directory the container replaced hidden in its export and copies', async () => {
    // --network none: no /etc/hosts and /etc/resolv.conf bound into /etc, which would keep it from going.
    const id = await docker(
      'create',
      '--network',
      'none',
      'busybox',
      'sh',
      '-c',
      '[ -e /etc/passwd ] && echo image etc; rm -rf /etc && mkdir /etc && echo only > /etc/only',
    );
    expect(await docker('start', '-a', id)).toBe('image etc');
    // Stopped: copies and the export mount the overlay on the host side, with the same xattrs.
    expect(Object.keys(await tarOwners(await dockerBytes(fixture, 'cp', `${id}:/etc`, '-'))).sort()).toEqual([
      'etc',
      'etc/only',
    ]);
    const exported = Object.keys(await tarOwners(await dockerBytes(fixture, 'export', id)));
    expect(exported).toContain('etc/only');
    expect(exported).not.toContain('etc/passwd');
    expect(await docker('diff', id)).toContain('A /etc/only');
    // Started again, inside its user namespace, the image's /etc stays hidden.
    expect(await docker('start', '-a', id)).toBe('');
    await docker('rm', id);
  });

  it('refuses what needs the host’s namespaces without --userns=host, and allows it with', async () => {
    for (const flag of [['--privileged'], ['--network', 'host']]) {
      const refused = await fixture.dockerAll('run', '--rm', ...flag, 'busybox', 'true');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(
        `${flag.join(' ')} cannot run in the user namespace this engine gives containers (--userns-remap): add --userns=host`,
      );
    }
    expect(await docker('ps', '-aq')).toBe('');
    const privileged = await docker(
      'run',
      '--rm',
      '--privileged',
      '--userns=host',
      'busybox',
      'cat',
      '/proc/self/uid_map',
    );
    expect(privileged.trim().split(/\s+/)).toEqual(['0', '0', '4294967295']);
  });

  it('refuses an image with a file owned by an id the remapping cannot hold, and keeps the store clean', async () => {
    const rootfs = join(fixture.root, 'far.tar');
    await writeFile(
      rootfs,
      await busyboxRootfsTar([{ header: { name: 'far', type: 'file', uid: 70000, gid: 0, mode: 0o644 }, body: 'x' }]),
    );
    const imported = await fixture.dockerAll('import', rootfs, 'far:1');
    expect(imported.code).not.toBe(0);
    expect(imported.stderr).toContain(
      "container uid 70000 cannot be mapped to a host uid: the engine's user namespace remapping is too small for it",
    );
    expect(await docker('images', '--quiet', 'far')).toBe('');
    expect(await readdir(join(fixture.root, `${first}.${firstGid}`, 'tmp'))).toEqual([]);
  });

  it('finds its containers again after the engine restarts, still remapped', async () => {
    const id = await docker('run', '-d', 'busybox', 'sleep', '60');
    await fixture.restart();
    expect(await docker('exec', id, 'cat', '/proc/self/uid_map')).toMatch(new RegExp(`^0\\s+${first}\\s+65536$`));
    await docker('rm', '-f', id);
  });
});
