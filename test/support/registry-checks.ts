/** What registry tests check on an engine: its store after a failure, and docker with its own config dir. */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DockerResult, TestEngine } from './test-engine.js';

const run = promisify(execFile);

export interface StoreSnapshot {
  layers: string[];
  blobs: string[];
  images: string[];
  references: string;
  /** What is left in tmp/: must be nothing once an operation is over. */
  temporary: string[];
}

const list = async (path: string): Promise<string[]> => (await readdir(path).catch(() => [] as string[])).sort();

export async function storeSnapshot(root: string): Promise<StoreSnapshot> {
  return {
    layers: await list(join(root, 'layers')),
    blobs: await list(join(root, 'content/sha256')),
    images: await list(join(root, 'images/meta')),
    references: await readFile(join(root, 'images/references.json'), 'utf8').catch(() => ''),
    temporary: await list(join(root, 'tmp')),
  };
}

/** The docker CLI against the engine with more environment (DOCKER_CONFIG for logins); never rejects. */
export async function dockerWith(
  engine: TestEngine,
  env: NodeJS.ProcessEnv,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<DockerResult> {
  const child = run('docker', args, { env: { ...engine.env(), ...env }, timeout: options.timeoutMs ?? 120_000 });
  if (options.input !== undefined) {
    child.child.stdin?.end(options.input);
  }
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as DockerResult;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
