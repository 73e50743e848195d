import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BusyboxImage, buildBusyboxImage } from '../../../test/support/busybox-image.js';
import type { ContainerRecord } from '../containers/container-record.js';
import type { ContainerService } from '../containers/container-service.js';
import { notFound } from '../engine-error.js';
import { createLogger } from '../logger.js';
import { tarBuffer } from '../snapshots/tar-packer.js';
import { registerArchiveHandlers } from './archive-handlers.js';
import { type RunningEngine, startEngine } from './engine.js';

const run = promisify(execFile);

/** The engine's container records as it last wrote them, looked up by id, name or id prefix. */
function recordsOnDisk(directory: string): Pick<ContainerService, 'get'> {
  return {
    get(reference) {
      for (const id of readdirSync(directory)) {
        let record: ContainerRecord;
        try {
          record = JSON.parse(readFileSync(join(directory, id, 'container.json'), 'utf8')) as ContainerRecord;
        } catch {
          continue;
        }
        if (record.id.startsWith(reference) || record.name === reference.replace(/^\//, '')) return record;
      }
      throw notFound(`No such container: ${reference}`);
    },
  };
}

/** `docker cp` both ways, through the real docker CLI against the engine's socket. */
describe('docker cp through the docker CLI', () => {
  let root: string;
  let work: string;
  let engine: RunningEngine;
  let busybox: BusyboxImage;
  const env = () => ({ ...process.env, DOCKER_HOST: `unix://${engine.socketPath}` });
  const docker = async (...args: string[]) =>
    (await run('docker', args, { env: env(), timeout: 30_000 })).stdout.trim();
  const dockerAll = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run('docker', args, { env: env(), timeout: 30_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  /** A PUT as any client may send it, without the docker CLI's own checks. */
  const rawPut = (container: string, path: string, archive: Buffer) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const put = request(
        {
          socketPath: engine.socketPath,
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
    if (process.getuid?.() !== 0) throw new Error('the container tests need root');
    root = await mkdtemp(join(tmpdir(), 'skiff-archive-'));
    work = join(root, 'work');
    await mkdir(work);
    engine = await startEngine({
      root,
      socketPath: join(root, 'docker.sock'),
      version: '0.0.0-test',
      logger: createLogger({ level: 'error', write: () => undefined }),
    });
    // Until engine.ts registers the archive routes, the test adds them over the records on disk.
    if (!engine.router.lookup('PUT /containers/{id}/archive')) {
      registerArchiveHandlers(engine.router, recordsOnDisk(join(root, 'containers')));
    }
    busybox = await buildBusyboxImage({ format: 'docker-save', tag: 'busybox:latest' });
    await docker('load', '--input', busybox.archivePath);
  });
  afterAll(async () => {
    if (engine) {
      const ids = await docker('ps', '-aq').catch(() => '');
      if (ids) await docker('rm', '-f', ...ids.split('\n')).catch(() => undefined);
      await engine.close();
    }
    await busybox?.cleanup();
    if (root) await rm(root, { recursive: true, force: true });
  });

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
