// Steps shared by `npm start`, `npm test` and `npm run build`. Node builtins only: this runs before
// any dependency is installed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));

export function say(message) {
  process.stdout.write(`\x1b[1m==>\x1b[0m ${message}\n`);
}

/** Runs a command with inherited stdio; throws when it fails. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw new Error(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
}

export function runAsync(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', ...options });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit code ${code}`})`)),
    );
  });
}

/** `npm ci` when node_modules is missing or older than the lockfile. */
export function ensureDependencies() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, NG_CLI_ANALYTICS: 'false' } });
}

/** Installs Debian packages that are missing; needs root and apt-get. */
export function ensureDebianPackages(packages) {
  const missing = packages.filter((name) => {
    const status = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return !status.stdout?.includes('install ok installed');
  });
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing Debian packages: ${missing.join(', ')}; install them with: sudo apt-get install ${missing.join(' ')}`,
    );
  }
  say(`installing Debian packages: ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another install (a test installing busybox) may hold dpkg's lock: wait for it rather than fail.
  const install = ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', '--no-install-recommends', ...missing];
  if (spawnSync('apt-get', install, { stdio: 'inherit', env }).status === 0) return;
  run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-qq'], { env });
  run('apt-get', install, { env });
}

/** The newest modification time of the files under `dir` (skipping build output and dependencies). */
export function newestMtime(dir) {
  let newest = 0;
  const walk = (path) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (['node_modules', 'dist', '.angular', 'build'].includes(entry.name)) continue;
      const child = join(path, entry.name);
      if (entry.isDirectory()) walk(child);
      else newest = Math.max(newest, statSync(child).mtimeMs);
    }
  };
  if (existsSync(dir)) walk(dir);
  return newest;
}

/** Compiles what is out of date: the TypeScript projects, the console and the agent's C helper. */
export function build({ force = false } = {}) {
  say('building the TypeScript packages');
  run(process.execPath, [
    join(root, 'node_modules/typescript/bin/tsc'),
    '-b',
    'tsconfig.json',
    ...(force ? ['--force'] : []),
  ]);

  const webIndex = join(root, 'web/dist/browser/index.html');
  const webSources = Math.max(
    newestMtime(join(root, 'web/src')),
    ...['web/angular.json', 'web/tsconfig.json', 'web/tsconfig.app.json'].map((file) =>
      existsSync(join(root, file)) ? statSync(join(root, file)).mtimeMs : 0,
    ),
  );
  if (force || !existsSync(webIndex) || statSync(webIndex).mtimeMs < webSources) {
    say('building the console (Angular)');
    run('npx', ['ng', 'build'], { cwd: join(root, 'web'), env: { ...process.env, NG_CLI_ANALYTICS: 'false' } });
  }

  const shimBuild = join(root, 'host-agent/scripts/build-shim.mjs');
  if (existsSync(shimBuild)) run(process.execPath, [shimBuild]);
}
