#!/usr/bin/env node
// Builds host-agent/shim/*.c into host-agent/shim/build/skiff-shim, and host-agent/shim/init/*.c
// into host-agent/shim/build/skiff-init (the `--init` process bound into containers at
// /sbin/docker-init), with the system C compiler. Rebuilds only when a source (or this script) is
// newer than the binary. Links statically when the C library's static archive is installed, so
// neither binary needs anything at run time (skiff-init runs inside images without a libc).
//
//   node host-agent/scripts/build-shim.mjs [--force] [--quiet]
//
// Node builtins only: this runs on fleet hosts at install time.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SHIM_SOURCE_DIR = resolve(here, '../shim');
export const SHIM_BINARY = join(SHIM_SOURCE_DIR, 'build', 'skiff-shim');
export const INIT_SOURCE_DIR = join(SHIM_SOURCE_DIR, 'init');
export const INIT_BINARY = join(SHIM_SOURCE_DIR, 'build', 'skiff-init');

const CFLAGS = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong'];

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
function compile(binary, { sources, headers }, { force, log, extraFlags = [] }) {
  if (sources.length === 0) throw new ShimBuildError(`cannot build ${binary}: no C sources`);
  if (!force && existsSync(binary) && statSync(binary).mtimeMs >= newestInput([...sources, ...headers])) {
    log(`${binary} is up to date`);
    return { built: false, static: undefined };
  }
  const cc = findCompiler();
  const linkStatic = canLinkStatically(cc);
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
  renameSync(temporary, binary);
  log(`built ${binary} (${linkStatic ? 'static' : 'dynamic: libc.a not found'}) in ${Date.now() - started} ms`);
  return { built: true, static: linkStatic };
}

/**
 * Builds the shim and the init if they are missing or older than their sources.
 * @param {{ force?: boolean, log?: (line: string) => void }} [options]
 * @returns {{ path: string, initPath: string, built: boolean, static: boolean | undefined }}
 */
export function buildShim({ force = false, log = () => {} } = {}) {
  const shim = compile(SHIM_BINARY, sourcesIn(SHIM_SOURCE_DIR), { force, log });
  // Small: it is mapped into every container that runs with --init.
  const init = compile(INIT_BINARY, sourcesIn(INIT_SOURCE_DIR), { force, log, extraFlags: ['-Os', '-s'] });
  return {
    path: SHIM_BINARY,
    initPath: INIT_BINARY,
    built: shim.built || init.built,
    static: shim.static ?? init.static,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  try {
    buildShim({ force: args.includes('--force'), log: args.includes('--quiet') ? () => {} : console.log });
  } catch (error) {
    console.error(error instanceof ShimBuildError ? error.message : error);
    process.exit(1);
  }
}
