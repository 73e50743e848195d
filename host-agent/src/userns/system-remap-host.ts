/**
 * The host side of `--userns-remap=default`: the account files under /etc, and useradd and
 * usermod from Debian's `passwd` package (which take the files' locks) to change them.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { RemapError, type AccountFiles, type RemapHost, type SubordinateRange } from './userns-remap.js';

const run = promisify(execFile);

export class SystemRemapHost implements RemapHost {
  constructor(private readonly etc = '/etc') {}

  async readAccountFiles(): Promise<AccountFiles> {
    const read = async (name: string) => {
      try {
        return await readFile(join(this.etc, name), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
        throw error;
      }
    };
    const [passwd, group, subuid, subgid] = await Promise.all(['passwd', 'group', 'subuid', 'subgid'].map(read));
    return { passwd: passwd ?? '', group: group ?? '', subuid: subuid ?? '', subgid: subgid ?? '' };
  }

  async addSystemUser(name: string): Promise<void> {
    await tool('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      name,
    ]);
  }

  async addSubordinateRanges(name: string, uids?: SubordinateRange, gids?: SubordinateRange): Promise<void> {
    const span = (range: SubordinateRange) => `${range.start}-${range.start + range.count - 1}`;
    const args = [...(uids ? ['--add-subuids', span(uids)] : []), ...(gids ? ['--add-subgids', span(gids)] : [])];
    if (args.length > 0) await tool('usermod', [...args, name]);
  }
}

async function tool(command: string, args: string[]): Promise<void> {
  try {
    await run(command, args, { timeout: 30_000 });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new RemapError(`--userns-remap=default needs ${command} (Debian's passwd package) to create its user`);
    }
    throw new RemapError(`--userns-remap=default: ${command} failed: ${(failure.stderr ?? failure.message).trim()}`);
  }
}
