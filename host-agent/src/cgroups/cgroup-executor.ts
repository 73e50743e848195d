/**
 * Carries out a CgroupPlan, in its order, and nothing else: every decision is in the plan.
 */
import { join } from 'node:path';

import type { ErrorKind } from '@skiff/protocol';

import { EngineError } from '../engine-error.js';
import { errnoCode, WriteEachError, type CgroupFs } from './cgroup-fs.js';
import type { CgroupPlan } from './cgroup-plan.js';

/**
 * @param subject what the cgroup belongs to, for messages: `container 3f2a…` or `the cgroup parent skiff`.
 * @returns the directories it made, so a caller can take them away again if a later step fails.
 */
export async function applyCgroupPlan(
  fs: CgroupFs,
  plan: CgroupPlan,
  subject: string,
  made: string[] = [],
): Promise<string[]> {
  // Each directory's steps run in order; directories run side by side, a child only after its
  // parent (one hierarchy per directory on v1: ten round trips at once rather than one by one).
  const done: { dir: string; work: Promise<void> }[] = [];
  for (const dir of plan.dirs) {
    const ancestors = done.filter((earlier) => dir.dir.startsWith(`${earlier.dir}/`)).map((earlier) => earlier.work);
    const work = Promise.all(ancestors).then(() => applyDirectory(fs, dir, subject, made));
    done.push({ dir: dir.dir, work });
  }
  const outcomes = await Promise.allSettled(done.map((entry) => entry.work));
  const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failure) throw failure.reason;
  return made;
}

async function applyDirectory(
  fs: CgroupFs,
  dir: CgroupPlan['dirs'][number],
  subject: string,
  made: string[],
): Promise<void> {
  switch (dir.mkdir) {
    case 'new':
    case 'ensure':
      try {
        await fs.mkdir(dir.dir);
        made.push(dir.dir);
      } catch (error) {
        const code = errnoCode(error);
        if (code === 'EEXIST' && dir.mkdir === 'ensure') break;
        if (code === 'EEXIST') throw new EngineError('conflict', `${subject} already has a cgroup: ${dir.dir}`);
        throw new EngineError(
          'internal',
          `cannot create the cgroup of ${subject} at ${dir.dir}: ${code ?? String(error)}`,
          {
            cause: error,
          },
        );
      }
      break;
    case 'none':
      break;
  }
  // Consecutive writes to one file (devices rules) go through one open file where the fs can.
  for (let start = 0; start < dir.writes.length;) {
    const file = dir.writes[start]?.file ?? '';
    let end = start + 1;
    while (end < dir.writes.length && dir.writes[end]?.file === file) end += 1;
    const values = dir.writes.slice(start, end).map((write) => write.value);
    const path = join(dir.dir, file);
    try {
      if (values.length > 1 && fs.writeEach) await fs.writeEach(path, values);
      else {
        for (const [index, value] of values.entries()) {
          await fs.writeFile(path, value).catch((error: unknown) => {
            throw new WriteEachError(index, error);
          });
        }
      }
    } catch (error) {
      const code = errnoCode(error);
      const value = error instanceof WriteEachError ? values[error.index] : values[0];
      throw new EngineError(
        writeErrorKind(code),
        `cannot set ${file} of ${subject} to ${JSON.stringify(value)}: ${describeWriteError(code, file)} (${path})`,
        { cause: error },
      );
    }
    start = end;
  }
}

function writeErrorKind(code: string | undefined): ErrorKind {
  switch (code) {
    case 'EINVAL':
    case 'ERANGE':
    case 'ENOENT':
    case 'EOPNOTSUPP':
      return 'invalid-argument';
    case 'EBUSY':
    case 'ENOSPC':
      return 'conflict';
    default:
      return 'internal';
  }
}

function describeWriteError(code: string | undefined, file: string): string {
  switch (code) {
    case 'EINVAL':
    case 'ERANGE':
      return `the kernel refused the value (${code})`;
    case 'ENOENT':
      return 'this kernel has no such control file (ENOENT)';
    case 'EBUSY':
      return file.startsWith('memory.')
        ? 'the container uses more memory than the new limit and the kernel could not reclaim it (EBUSY)'
        : 'the cgroup is busy (EBUSY)';
    case 'ENOSPC':
      return 'the parent cgroup does not allow it (ENOSPC)';
    default:
      return code ?? 'unknown error';
  }
}
