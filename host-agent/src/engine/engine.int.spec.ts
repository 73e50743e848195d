import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    });
  });
  afterAll(async () => {
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
});
