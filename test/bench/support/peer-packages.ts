import { execFileSync, spawnSync } from 'node:child_process';

/** The engines compared with ours, from Debian (containerd comes with docker.io). */
export const PEER_PACKAGES = ['docker.io', 'containerd', 'podman', 'runc', 'crun'];

/** The installed version of a Debian package, or undefined. */
export function debianVersion(name: string): string | undefined {
  const query = spawnSync('dpkg-query', ['-W', '-f=${Status}\t${Version}', name], { encoding: 'utf8' });
  const [status, version] = (query.stdout ?? '').split('\t');
  return status?.includes('install ok installed') ? version : undefined;
}

/**
 * Installs the peers that are missing (npm run bench does it first; this is for a bench started
 * with vitest directly). Services are not started: the benchmark starts its own, privately.
 */
export function ensurePeerPackages(): void {
  const missing = PEER_PACKAGES.filter((name) => debianVersion(name) === undefined);
  if (missing.length === 0) return;
  execFileSync(
    'apt-get',
    ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', '--no-install-recommends', ...missing],
    { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
  );
}
