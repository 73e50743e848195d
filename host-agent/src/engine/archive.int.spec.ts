import { request } from 'node:http';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEngine } from '../../../test/support/test-engine.js';
import { tarBuffer } from '../snapshots/tar-packer.js';

/** `docker cp` both ways, through the real docker CLI against the engine's socket. */
describe('docker cp through the docker CLI', () => {
  let fixture: TestEngine;
  let root: string;
  let work: string;
  const docker = (...args: string[]) => fixture.docker(...args);
  const dockerAll = (...args: string[]) => fixture.dockerAll(...args);

  /** A PUT as any client may send it, without the docker CLI's own checks. */
  const rawPut = (container: string, path: string, archive: Buffer) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const put = request(
        {
          socketPath: fixture.engine.socketPath,
          method: 'PUT',
          path: `/v1.41/containers/${container}/archive?path=${encodeURIComponent(path)}&noOverwriteDirNonDir=true`,
          headers: { 'Content-Type': 'text/plain' },
        },
        (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      put.on('error', reject);
      put.end(archive);
    });

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true });
    root = fixture.root;
    work = join(root, 'work');
    await mkdir(work);
  });
  afterAll(() => fixture?.close());

  it('copies a file into a created container and back out', async () => {
    await docker('create', '--name', 'fresh', 'busybox', 'true');
    await writeFile(join(work, 'hello.txt'), 'hello from the host\n');
    await docker('cp', join(work, 'hello.txt'), 'fresh:/tmp/');
    await docker('cp', 'fresh:/tmp/hello.txt', join(work, 'back.txt'));
    expect(await readFile(join(work, 'back.txt'), 'utf8')).toBe('hello from the host\n');
    await docker('start', 'fresh');
    await docker('wait', 'fresh');
    await docker('rm', 'fresh');
  });

  it('copies into a running container, which sees the file', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'live',
      'busybox',
      'sh',
      '-c',
      'while [ ! -f /tmp/ready ]; do sleep 0.1; done; cat /tmp/ready',
    );
    await writeFile(join(work, 'ready'), 'seen inside\n');
    await docker('cp', join(work, 'ready'), 'live:/tmp/ready');
    expect(await docker('wait', 'live')).toBe('0');
    expect(await docker('logs', 'live')).toBe('seen inside');
    await docker('rm', 'live');
  });

  it('copies a directory both ways', async () => {
    await docker('run', '-d', '--name', 'dirs', 'busybox', 'sleep', '60');
    await mkdir(join(work, 'tree', 'sub'), { recursive: true });
    await writeFile(join(work, 'tree', 'a'), 'A');
    await writeFile(join(work, 'tree', 'sub', 'b'), 'B');
    await docker('cp', join(work, 'tree'), 'dirs:/srv');
    await docker('cp', 'dirs:/srv', join(work, 'out'));
    expect(await readFile(join(work, 'out', 'a'), 'utf8')).toBe('A');
    expect(await readFile(join(work, 'out', 'sub', 'b'), 'utf8')).toBe('B');
    await docker('rm', '-f', 'dirs');
  });

  it('copies into a stopped container, which sees the file when it runs again', async () => {
    await docker('run', '--name', 'stopped', 'busybox', 'sh', '-c', 'cat /note 2>/dev/null || echo none');
    await writeFile(join(work, 'note'), 'left while stopped\n');
    await docker('cp', join(work, 'note'), 'stopped:/note');
    await docker('start', 'stopped');
    await docker('wait', 'stopped');
    expect(await docker('logs', 'stopped')).toBe('none\nleft while stopped');
    await docker('rm', 'stopped');
  });

  it("writes through a container's symlink to /etc into the container's /etc, never the host's", async () => {
    const hostBefore = await stat('/etc').then((info) => info.mtimeMs);
    await docker('run', '-d', '--name', 'evil', 'busybox', 'sh', '-c', 'ln -s /etc /tmp/evil; sleep 60');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const marker = `skiff-cp-marker-${process.pid}`;
    await writeFile(join(work, marker), 'inside only\n');
    await docker('cp', join(work, marker), 'evil:/tmp/evil/');
    const raw = await rawPut(
      'evil',
      '/tmp/evil',
      await tarBuffer([{ header: { name: `${marker}-raw`, type: 'file' }, body: 'raw' }]),
    );
    expect(raw.status).toBe(200);
    await expect(stat(join('/etc', `${marker}-raw`))).rejects.toThrow(/ENOENT/);
    await expect(stat(join('/etc', marker))).rejects.toThrow(/ENOENT/);
    expect(await stat('/etc').then((info) => info.mtimeMs)).toBe(hostBefore);
    await docker('cp', `evil:/etc/${marker}`, join(work, 'from-etc'));
    expect(await readFile(join(work, 'from-etc'), 'utf8')).toBe('inside only\n');
    await docker('cp', `evil:/etc/${marker}-raw`, join(work, 'from-etc-raw'));
    expect(await readFile(join(work, 'from-etc-raw'), 'utf8')).toBe('raw');
    await docker('rm', '-f', 'evil');
  });

  it('answers a missing path with Could not find the file', async () => {
    await docker('create', '--name', 'empty', 'busybox', 'true');
    const result = await dockerAll('cp', 'empty:/no/such/file', join(work, 'x'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Could not find the file \/no\/such\/file in container empty/);
    await docker('rm', 'empty');
  });

  it('refuses a raw archive with ../../escape and writes nothing', async () => {
    await docker('create', '--name', 'raw', 'busybox', 'true');
    const archive = await tarBuffer([
      { header: { name: 'fine', type: 'file' }, body: 'ok' },
      { header: { name: '../../escape', type: 'file' }, body: 'out' },
    ]);
    const answer = await rawPut('raw', '/tmp', archive);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatch(/escape/);
    expect((await dockerAll('cp', 'raw:/tmp/fine', join(work, 'fine'))).stderr).toMatch(/Could not find the file/);
    expect((await dockerAll('cp', 'raw:/escape', join(work, 'escape'))).stderr).toMatch(/Could not find the file/);
    await docker('rm', 'raw');
  });
});
