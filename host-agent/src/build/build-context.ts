/**
 * The build context as it arrives with POST /build: a tar archive (plain, gzip or zstd) unpacked
 * into a private directory with the safe extractor (no entry lands outside it, no device node),
 * `.dockerignore` applied (the CLI applies it before sending; other clients may not), and the
 * Dockerfile read from the path the request names, which must stay inside the context.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { EngineError, invalidArgument, notFound } from '../engine-error.js';
import { decompress } from '../snapshots/compression.js';
import { extractTar } from '../snapshots/tar-extractor.js';
import type { SysCalls } from '../sys/sys-calls.js';
import { DockerIgnore } from './dockerignore.js';
import { SourceRoot } from './file-sources.js';
import { readdir, lstat } from 'node:fs/promises';

export class BuildContext {
  readonly sources: SourceRoot;

  private constructor(
    readonly root: string,
    sys: SysCalls,
  ) {
    this.sources = new SourceRoot(root, 'context', sys);
  }

  /** Unpacks the context into `<directory>/context` (`directory` must exist and be private). */
  static async receive(body: AsyncIterable<Uint8Array>, directory: string, sys: SysCalls): Promise<BuildContext> {
    const root = join(directory, 'context');
    try {
      const { stream } = await decompress(body, 'the build context');
      await extractTar(stream, root, { sys, whiteouts: false, preserveOwnership: false, allowDevices: false });
    } catch (error) {
      if (error instanceof EngineError) {
        throw invalidArgument(`cannot read the build context (a tar archive): ${error.message}`);
      }
      throw invalidArgument(`cannot read the build context (a tar archive): ${(error as Error).message}`);
    }
    return new BuildContext(root, sys);
  }

  /** Reads `.dockerignore` and removes what it excludes; returns the patterns. */
  async applyDockerIgnore(): Promise<DockerIgnore> {
    let text: string;
    try {
      text = await readFile(join(this.root, '.dockerignore'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return DockerIgnore.empty();
      throw error;
    }
    const ignore = DockerIgnore.parse(text);
    await this.prune(ignore, '');
    return ignore;
  }

  private async prune(ignore: DockerIgnore, relative: string): Promise<void> {
    for (const name of await readdir(join(this.root, relative))) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const hostPath = join(this.root, path);
      const isDirectory = (await lstat(hostPath)).isDirectory();
      if (ignore.excludes(path) && !(isDirectory && ignore.hasExceptions())) {
        await rm(hostPath, { recursive: true, force: true });
        continue;
      }
      if (isDirectory) await this.prune(ignore, path);
      else if (ignore.excludes(path)) await rm(hostPath, { force: true });
    }
  }

  /**
   * The Dockerfile at `name` (relative to the context; `Dockerfile`, then `dockerfile`, by
   * default). Read before `.dockerignore` is applied: the CLI always sends it.
   */
  async readDockerfile(name: string | undefined): Promise<string> {
    const candidates = name === undefined || name === '' ? ['Dockerfile', 'dockerfile'] : [name];
    for (const candidate of candidates) {
      let resolved;
      try {
        resolved = await this.sources.resolvePath(candidate);
      } catch (error) {
        if (error instanceof EngineError && error.kind === 'not-found') continue;
        throw error;
      }
      if (resolved.kind !== 'file') continue;
      return readFile(resolved.hostPath, 'utf8');
    }
    throw notFound(`Cannot locate specified Dockerfile: ${candidates[0]}`);
  }
}
