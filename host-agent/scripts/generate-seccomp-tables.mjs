#!/usr/bin/env node
// Writes host-agent/src/seccomp/syscall-table.ts: the syscall numbers of every architecture the
// seccomp compiler supports, and the kernel constants a filter is made of (AUDIT_ARCH_*,
// SECCOMP_RET_*, SECCOMP_FILTER_FLAG_*, the BPF opcodes, the errnos it returns). Every number comes from the Linux UAPI
// headers through the C preprocessor; none is typed in by hand.
//
//   node host-agent/scripts/generate-seccomp-tables.mjs          # rewrite the table
//   node host-agent/scripts/generate-seccomp-tables.mjs --json   # print what the headers say (tests compare)
//
// Headers: x86_64 and x86 from the host's linux-libc-dev (/usr/include/x86_64-linux-gnu/asm),
// aarch64 from linux-libc-dev-arm64-cross (/usr/aarch64-linux-gnu/include). An architecture whose
// headers are missing is left out of --json and refused when writing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const OUTPUT = resolve(here, '../src/seccomp/syscall-table.ts');

/** Where each architecture's numbers come from: include directories and the header that defines __NR_*. */
const ARCHES = {
  x86_64: { dirs: ['/usr/include/x86_64-linux-gnu', '/usr/include'], header: 'asm/unistd_64.h', pkg: 'linux-libc-dev' },
  x86: { dirs: ['/usr/include/x86_64-linux-gnu', '/usr/include'], header: 'asm/unistd_32.h', pkg: 'linux-libc-dev' },
  aarch64: { dirs: ['/usr/aarch64-linux-gnu/include'], header: 'asm/unistd.h', pkg: 'linux-libc-dev-arm64-cross' },
};

/** Kernel constants, by the header that defines them. */
const CONSTANTS = {
  'linux/audit.h': ['AUDIT_ARCH_X86_64', 'AUDIT_ARCH_I386', 'AUDIT_ARCH_AARCH64'],
  'asm/unistd.h': ['__X32_SYSCALL_BIT'],
  'asm/errno.h': ['EPERM', 'ENOSYS'],
  'linux/seccomp.h': [
    'SECCOMP_RET_KILL_PROCESS',
    'SECCOMP_RET_KILL_THREAD',
    'SECCOMP_RET_TRAP',
    'SECCOMP_RET_ERRNO',
    'SECCOMP_RET_TRACE',
    'SECCOMP_RET_LOG',
    'SECCOMP_RET_ALLOW',
    'SECCOMP_RET_DATA',
    'SECCOMP_FILTER_FLAG_TSYNC',
    'SECCOMP_FILTER_FLAG_LOG',
    'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  ],
  'linux/bpf_common.h': [
    'BPF_LD',
    'BPF_W',
    'BPF_ABS',
    'BPF_ALU',
    'BPF_AND',
    'BPF_JMP',
    'BPF_JA',
    'BPF_JEQ',
    'BPF_JGT',
    'BPF_JGE',
    'BPF_K',
    'BPF_RET',
    'BPF_MAXINSNS',
  ],
};

class TableError extends Error {
  name = 'TableError';
}

function preprocess(dirs, args, input) {
  const cc = process.env.CC || 'cc';
  const includes = dirs.flatMap((dir) => ['-isystem', dir]);
  const result = spawnSync(cc, ['-E', '-P', '-nostdinc', ...includes, ...args, '-x', 'c', input], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new TableError(`${cc} -E failed: ${(result.stderr || String(result.error)).trim()}`);
  }
  return result.stdout;
}

/**
 * Evaluates what the preprocessor left of a constant: integer literals (with U/L suffixes),
 * parentheses, `+`, `<<` and `|`, as C does. Anything else is refused, so a header that defines
 * a number in a new way stops the generator instead of giving a wrong number.
 */
export function evaluate(expression) {
  const tokens = expression.match(/0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|<<|[()+|]|\S/g) ?? [];
  let at = 0;
  const fail = () => {
    throw new TableError(`cannot evaluate ${JSON.stringify(expression)}`);
  };
  const primary = () => {
    const token = tokens[at++];
    if (token === '(') {
      const value = or();
      if (tokens[at++] !== ')') fail();
      return value;
    }
    if (token === undefined || !/^\d|^0[xX]/.test(token)) fail();
    return BigInt(token.replace(/[uUlL]+$/, ''));
  };
  const sum = () => {
    let value = primary();
    while (tokens[at] === '+') {
      at++;
      value += primary();
    }
    return value;
  };
  const shift = () => {
    let value = sum();
    while (tokens[at] === '<<') {
      at++;
      value <<= sum();
    }
    return value;
  };
  const or = () => {
    let value = shift();
    while (tokens[at] === '|') {
      at++;
      value |= shift();
    }
    return value;
  };
  const value = or();
  if (at !== tokens.length) fail();
  return Number(value);
}

/** The values of macros, expanded by the preprocessor with the given header included. */
function macroValues(dirs, header, names, scratch) {
  const source = join(scratch, 'values.c');
  writeFileSync(source, `#include <${header}>\n${names.map((name) => `SKIFF "${name}" = ${name}\n`).join('')}`);
  const values = {};
  for (const line of preprocess(dirs, [], source).split('\n')) {
    const match = /^SKIFF "(\w+)" = (.*)$/.exec(line);
    if (match) values[match[1]] = evaluate(match[2]);
  }
  for (const name of names) if (values[name] === undefined) throw new TableError(`${header} does not define ${name}`);
  return values;
}

function syscallNumbers({ dirs, header }, scratch) {
  const source = join(scratch, 'names.c');
  writeFileSync(source, `#include <${header}>\n`);
  const names = [...preprocess(dirs, ['-dM'], source).matchAll(/^#define (__NR_\w+) /gm)]
    .map((match) => match[1])
    // Not syscalls: the table's size and the first number of the arch-specific block.
    .filter((name) => name !== '__NR_syscalls' && name !== '__NR_arch_specific_syscall')
    .sort();
  if (names.length < 100) throw new TableError(`${header} defines only ${names.length} syscalls`);
  const values = macroValues(dirs, header, names, scratch);
  return Object.fromEntries(names.map((name) => [name.slice('__NR_'.length), values[name]]));
}

function packageVersion(pkg) {
  const result = spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout ? `${pkg} ${result.stdout}` : pkg;
}

/** What the headers on this machine say; architectures without headers are left out. */
export function readTables() {
  const scratch = mkdtempSync(join(tmpdir(), 'skiff-seccomp-'));
  try {
    const arches = {};
    const sources = {};
    for (const [arch, spec] of Object.entries(ARCHES)) {
      if (!spec.dirs.every((dir) => existsSync(dir)) || !existsSync(join(spec.dirs[0], spec.header))) continue;
      arches[arch] = syscallNumbers(spec, scratch);
      sources[arch] = packageVersion(spec.pkg);
    }
    const constants = {};
    const hostDirs = ARCHES.x86_64.dirs;
    for (const [header, names] of Object.entries(CONSTANTS)) {
      Object.assign(constants, macroValues(hostDirs, header, names, scratch));
    }
    return { arches, sources, constants };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function render({ arches, sources, constants }) {
  const hex = (value) => `0x${value.toString(16)}`;
  const lines = [
    '// Generated by host-agent/scripts/generate-seccomp-tables.mjs from the Linux UAPI headers; do not edit.',
    ...Object.entries(sources).map(([arch, source]) => `// ${arch}: ${source}`),
    '',
    '/** The architectures the seccomp compiler has syscall numbers for. */',
    `export type SyscallArch = ${Object.keys(arches)
      .map((arch) => `'${arch}'`)
      .join(' | ')};`,
    '',
    '/** Kernel constants a seccomp filter is made of. */',
    'export const KERNEL = {',
    ...Object.entries(constants).map(([name, value]) => `  ${name}: ${hex(value)},`),
    '} as const;',
    '',
    '/** Syscall numbers by architecture and name (__NR_<name>). */',
    'export const SYSCALL_NUMBERS: Readonly<Record<SyscallArch, Readonly<Record<string, number>>>> = {',
  ];
  for (const [arch, numbers] of Object.entries(arches)) {
    lines.push(`  ${arch}: {`);
    for (const [name, number] of Object.entries(numbers)) lines.push(`    ${name}: ${number},`);
    lines.push('  },');
  }
  lines.push('};', '');
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const tables = readTables();
    if (process.argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify(tables)}\n`);
    } else {
      const missing = Object.keys(ARCHES).filter((arch) => !tables.arches[arch]);
      if (missing.length > 0) {
        throw new TableError(
          `no headers for ${missing.join(', ')}: install ${[...new Set(missing.map((arch) => ARCHES[arch].pkg))].join(' ')}`,
        );
      }
      writeFileSync(OUTPUT, render(tables));
      console.log(`wrote ${OUTPUT}`);
    }
  } catch (error) {
    console.error(error instanceof TableError ? error.message : error);
    process.exit(1);
  }
}
