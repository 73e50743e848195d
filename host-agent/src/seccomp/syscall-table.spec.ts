import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { KERNEL, SYSCALL_NUMBERS } from './syscall-table.js';

const GENERATOR = fileURLToPath(new URL('../../scripts/generate-seccomp-tables.mjs', import.meta.url));

interface HeaderTables {
  arches: Partial<Record<keyof typeof SYSCALL_NUMBERS, Record<string, number>>>;
  constants: Record<string, number>;
}

function readHeaders(): HeaderTables {
  const result = spawnSync(process.execPath, [GENERATOR, '--json'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the generator failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as HeaderTables;
}

describe('syscall-table', () => {
  // The C compiler and the host's UAPI headers are there wherever skiff-shim builds.
  it.runIf(process.arch === 'x64')("matches this machine's x86_64 and x86 headers, and their constants", () => {
    const headers = readHeaders();
    expect(headers.arches.x86_64).toEqual(SYSCALL_NUMBERS.x86_64);
    expect(headers.arches.x86).toEqual(SYSCALL_NUMBERS.x86);
    expect(headers.constants).toEqual({ ...KERNEL });
    // aarch64 needs linux-libc-dev-arm64-cross (see host-agent/seccomp/README.md).
    if (headers.arches.aarch64) expect(headers.arches.aarch64).toEqual(SYSCALL_NUMBERS.aarch64);
  });

  it('knows the numbers every architecture is known by', () => {
    expect(SYSCALL_NUMBERS.x86_64).toMatchObject({ read: 0, write: 1, mkdir: 83, clone3: 435 });
    expect(SYSCALL_NUMBERS.x86).toMatchObject({ read: 3, socketcall: 102, mkdir: 39 });
    expect(SYSCALL_NUMBERS.aarch64).toMatchObject({ read: 63, mkdirat: 34, clone: 220 });
    expect(SYSCALL_NUMBERS.aarch64['mkdir']).toBeUndefined();
  });
});
