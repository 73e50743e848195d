/**
 * Carries out a CgroupPlan, in its order, and nothing else: every decision is in the plan.
 */
import { join } from 'node:path';

import type { ErrorKind } from '@skiff/protocol';

import { EngineError } from '../engine-error.js';
import { errnoCode, type CgroupFs } from './cgroup-fs.js';
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
  for (const dir of plan.dirs) {
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
    for (const { file, value } of dir.writes) {
      const path = join(dir.dir, file);
      try {
        await fs.writeFile(path, value);
      } catch (error) {
        const code = errnoCode(error);
        throw new EngineError(
          writeErrorKind(code),
          `cannot set ${file} of ${subject} to ${JSON.stringify(value)}: ${describeWriteError(code, file)} (${path})`,
          { cause: error },
        );
      }
    }
  }
  return made;
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
