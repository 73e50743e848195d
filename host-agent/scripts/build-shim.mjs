#!/usr/bin/env node
// Builds host-agent/shim/*.c into host-agent/shim/build/skiff-shim, and host-agent/shim/init/*.c
// into host-agent/shim/build/skiff-init (the `--init` process bound into containers at
// /sbin/docker-init), with the system C compiler. Rebuilds only when a source (or this script) is
// newer than the binary. Links statically when the C library's static archive is installed, so
// neither binary needs anything at run time (skiff-init runs inside images without a libc).
//
// `--arch <x64|arm64>` (Node's names) other than this machine's cross-compiles with Debian's cross
// toolchain (`aarch64-linux-gnu-gcc`, `x86_64-linux-gnu-gcc`) into host-agent/shim/build/<arch>/,
// always statically: the server makes agent bundles for hosts of the other architecture this way.
// `--check` only tells (exit status 0 or 1 and a message) whether that toolchain is installed.
//
//   node host-agent/scripts/build-shim.mjs [--arch x64|arm64] [--force] [--quiet] [--check]
//
// Node builtins only: this runs on fleet hosts at install time.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SHIM_SOURCE_DIR = resolve(here, '../shim');
export const SHIM_BINARY = join(SHIM_SOURCE_DIR, 'build', 'skiff-shim');
export const INIT_SOURCE_DIR = join(SHIM_SOURCE_DIR, 'init');
export const INIT_BINARY = join(SHIM_SOURCE_DIR, 'build', 'skiff-init');

const CFLAGS = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong'];

/**
 * The architectures a shim can be built for, by Node's `process.arch` name: the GNU triplet of
 * Debian's cross toolchain, its packages (the compiler, and the C library with its static
 * archive), and the ELF e_machine of the result.
 */
export const TARGETS = {
  x64: { triplet: 'x86_64-linux-gnu', packages: ['gcc-x86-64-linux-gnu', 'libc6-dev-amd64-cross'], machine: 62 },
  arm64: { triplet: 'aarch64-linux-gnu', packages: ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'], machine: 183 },
};

/** Where the binaries for `arch` go: build/ for this machine's own, build/<arch>/ for a cross build. */
export function shimPaths(arch = process.arch) {
  const dir = arch === process.arch ? join(SHIM_SOURCE_DIR, 'build') : join(SHIM_SOURCE_DIR, 'build', arch);
  return { shim: join(dir, 'skiff-shim'), init: join(dir, 'skiff-init') };
}

export class ShimBuildError extends Error {
  name = 'ShimBuildError';
}

function findCompiler() {
  const candidates = process.env.CC ? [process.env.CC] : ['cc', 'gcc'];
  for (const cc of candidates) {
    const probe = spawnSync(cc, ['--version'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return cc;
  }
  throw new ShimBuildError(
    `cannot build skiff-shim: no C compiler found (tried ${candidates.join(', ')}); ` +
      'install one (Debian/Ubuntu: apt-get install gcc libc6-dev) or set CC',
  );
}

/** The cross compiler for `arch`, checked to link statically (a cross-built binary must need nothing on the host). */
function findCrossCompiler(arch) {
  const { triplet, packages } = TARGETS[arch];
  const cc = `${triplet}-gcc`;
  const install = `install the cross toolchain (Debian/Ubuntu: apt-get install ${packages.join(' ')})`;
  const probe = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new ShimBuildError(
      `cannot build skiff-shim for ${arch}: the cross compiler ${cc} is not installed; ${install}`,
    );
  }
  if (!canLinkStatically(cc)) {
    throw new ShimBuildError(`cannot build skiff-shim for ${arch}: ${cc} has no static C library (libc.a); ${install}`);
  }
  return cc;
}

/** e_machine of an ELF file (little-endian, as both targets are), or undefined for anything else. */
function elfMachine(path) {
  const header = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, header, 0, 20, 0) < 20 || header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  } finally {
    closeSync(fd);
  }
  return header.readUInt16LE(18);
}

/** True when `cc -static` can link: the C library's static archive is installed. */
function canLinkStatically(cc) {
  const probe = spawnSync(cc, ['-print-file-name=libc.a'], { encoding: 'utf8' });
  const path = probe.stdout?.trim() ?? '';
  return probe.status === 0 && isAbsolute(path) && existsSync(path);
}

function newestInput(sources) {
  const inputs = [...sources, fileURLToPath(import.meta.url)];
  return Math.max(...inputs.map((file) => statSync(file).mtimeMs));
}

function sourcesIn(dir) {
  const entries = readdirSync(dir);
  return {
    sources: entries.filter((name) => name.endsWith('.c')).map((name) => join(dir, name)),
    headers: entries.filter((name) => name.endsWith('.h')).map((name) => join(dir, name)),
  };
}

/** Compiles sources into binary unless it is newer than all inputs; returns whether it built. */
function compile(binary, { sources, headers }, { arch, force, log, extraFlags = [] }) {
  if (sources.length === 0) throw new ShimBuildError(`cannot build ${binary}: no C sources`);
  if (!force && existsSync(binary) && statSync(binary).mtimeMs >= newestInput([...sources, ...headers])) {
    log(`${binary} is up to date`);
    return { built: false, static: undefined };
  }
  const cross = arch !== process.arch;
  const cc = cross ? findCrossCompiler(arch) : findCompiler();
  const linkStatic = cross || canLinkStatically(cc);
  mkdirSync(dirname(binary), { recursive: true });
  // Compile to a temporary name and rename, so a concurrent reader never runs half a binary.
  const temporary = `${binary}.tmp-${process.pid}`;
  const args = [...CFLAGS, ...extraFlags, ...(linkStatic ? ['-static'] : []), '-o', temporary, ...sources.sort()];
  const started = Date.now();
  const result = spawnSync(cc, args, { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    rmSync(temporary, { force: true });
    const output = (result.stderr || result.stdout || String(result.error ?? '')).trim();
    throw new ShimBuildError(`cannot build ${binary}: ${cc} ${args.join(' ')} failed:\n${output}`);
  }
  // A CC that names another compiler than the target's would give a binary the host cannot run.
  const machine = elfMachine(temporary);
  if (TARGETS[arch] && machine !== TARGETS[arch].machine) {
    rmSync(temporary, { force: true });
    throw new ShimBuildError(
      `cannot build ${binary}: ${cc} made an ELF for machine ${machine ?? '?'}, not ${arch} (${TARGETS[arch].machine})`,
    );
  }
  renameSync(temporary, binary);
  log(`built ${binary} (${linkStatic ? 'static' : 'dynamic: libc.a not found'}) in ${Date.now() - started} ms`);
  return { built: true, static: linkStatic };
}

function checkArch(arch) {
  if (arch !== process.arch && !Object.hasOwn(TARGETS, arch)) {
    throw new ShimBuildError(
      `cannot build skiff-shim for ${arch}: the architectures are ${Object.keys(TARGETS).join(', ')}`,
    );
  }
}

/**
 * Throws a ShimBuildError that names the packages to install when the shim cannot be built for
 * `arch` here. This machine's own compiler is found at build time, as before.
 * @param {string} [arch]
 */
export function checkToolchain(arch = process.arch) {
  checkArch(arch);
  if (arch !== process.arch) findCrossCompiler(arch);
}

/**
 * Builds the shim and the init for `arch` (default: this machine's) if they are missing or older
 * than their sources.
 * @param {{ arch?: string, force?: boolean, log?: (line: string) => void }} [options]
 * @returns {{ path: string, initPath: string, built: boolean, static: boolean | undefined }}
 */
export function buildShim({ arch = process.arch, force = false, log = () => {} } = {}) {
  checkArch(arch);
  const paths = shimPaths(arch);
  const shim = compile(paths.shim, sourcesIn(SHIM_SOURCE_DIR), { arch, force, log });
  // Small: it is mapped into every container that runs with --init.
  const init = compile(paths.init, sourcesIn(INIT_SOURCE_DIR), { arch, force, log, extraFlags: ['-Os', '-s'] });
  return {
    path: paths.shim,
    initPath: paths.init,
    built: shim.built || init.built,
    static: shim.static ?? init.static,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const archAt = args.indexOf('--arch');
  try {
    if (archAt >= 0 && !args[archAt + 1]) throw new ShimBuildError('--arch wants x64 or arm64');
    const arch = archAt >= 0 ? args[archAt + 1] : process.arch;
    if (args.includes('--check')) checkToolchain(arch);
    else buildShim({ arch, force: args.includes('--force'), log: args.includes('--quiet') ? () => {} : console.log });
  } catch (error) {
    console.error(error instanceof ShimBuildError ? error.message : error);
    process.exit(1);
  }
}
