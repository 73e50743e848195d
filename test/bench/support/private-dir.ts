import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory for one engine's state, reachable (not readable) by others: containers may run as other users. */
export async function makePrivateDir(prefix: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), prefix));
  await chmod(directory, 0o711);
  return directory;
}

/** Mount points at or under `directory` in this mount namespace, deepest first. */
export function mountsUnder(directory: string): string[] {
  return (
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4])
      .filter((point): point is string => point !== undefined)
      // mountinfo escapes space, tab, newline and backslash as octal.
      .map((point) =>
        point.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8))),
      )
      .filter((point) => point === directory || point.startsWith(`${directory}/`))
      .sort((a, b) => b.length - a.length)
  );
}

/** Unmounts whatever an engine left mounted under its directory (detached), then deletes it. */
export async function removePrivateDir(directory: string): Promise<string[]> {
  const left = mountsUnder(directory);
  for (const point of left) execFileSync('umount', ['--lazy', point], { stdio: 'ignore' });
  await rm(directory, { recursive: true, force: true });
  return left;
}
