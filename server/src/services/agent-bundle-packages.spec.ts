import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type BundlePlatform, type LockPackages, placeProductionPackages } from './agent-bundle-packages.js';

describe(placeProductionPackages.name, () => {
  const packages: LockPackages = {
    agent: { dependencies: { proto: '1', ws: '^8', a: '1' }, optionalDependencies: { missing: '1' } },
    'node_modules/proto': { link: true, resolved: 'agent/proto' },
    'agent/proto': { version: '1.0.0' },
    'node_modules/ws': { version: '8.0.0', optionalDependencies: { native: '1' } },
    'node_modules/native': { version: '1.0.0' },
    'node_modules/a': { version: '1.0.0', dependencies: { b: '2' } },
    'node_modules/b': { version: '1.0.0' },
    'node_modules/a/node_modules/b': { version: '2.0.0' },
    'node_modules/devonly': { version: '1.0.0', dev: true },
  };

  it('places hoisted dependencies at the top, workspace links as their source, nested versions under their dependant', () => {
    expect(placeProductionPackages(packages, 'agent')).toEqual([
      { source: 'node_modules/a', target: 'node_modules/a', workspace: false },
      { source: 'node_modules/a/node_modules/b', target: 'node_modules/a/node_modules/b', workspace: false },
      { source: 'node_modules/native', target: 'node_modules/native', workspace: false },
      { source: 'agent/proto', target: 'node_modules/proto', workspace: true },
      { source: 'node_modules/ws', target: 'node_modules/ws', workspace: false },
    ]);
  });

  it('refuses a missing required dependency', () => {
    expect(() => placeProductionPackages({ agent: { dependencies: { gone: '1' } } }, 'agent')).toThrow(
      'gone, a dependency of agent, is not installed',
    );
  });

  it("takes the agent's real runtime dependencies and koffi's prebuilt binary from the checkout's lockfile", () => {
    const lock = JSON.parse(readFileSync(new URL('../../../package-lock.json', import.meta.url), 'utf8')) as {
      packages: LockPackages;
    };
    const root = new URL('../../../', import.meta.url);
    const targets = placeProductionPackages(lock.packages, 'host-agent', (path) => existsSync(new URL(path, root))).map(
      (entry) => entry.target,
    );
    expect(targets).toEqual(
      expect.arrayContaining([
        'node_modules/@skiff/protocol',
        'node_modules/koffi',
        'node_modules/@koromix/koffi-linux-x64',
        'node_modules/socket.io-client',
        'node_modules/tar-stream',
        'node_modules/fzstd',
      ]),
    );
    expect(targets).not.toContain('node_modules/socket.io');
    expect(targets).not.toContain('node_modules/@koromix/koffi-android-arm64');
  });
  describe('for a target platform', () => {
    const arm64: BundlePlatform = { os: 'linux', cpu: 'arm64', libc: 'glibc' };
    const x64: BundlePlatform = { os: 'linux', cpu: 'x64', libc: 'glibc' };
    const ffi: LockPackages = {
      agent: { dependencies: { ffi: '1' } },
      'node_modules/ffi': {
        version: '1.0.0',
        optionalDependencies: {
          'ffi-linux-x64': '1',
          'ffi-linux-arm64': '1',
          'ffi-linux-musl': '1',
          'ffi-not-win': '1',
        },
      },
      'node_modules/ffi-linux-x64': { version: '1.0.0', integrity: 'sha512-x64', os: ['linux'], cpu: ['x64'] },
      'node_modules/ffi-linux-arm64': { version: '1.0.0', integrity: 'sha512-arm', os: ['linux'], cpu: ['arm64'] },
      'node_modules/ffi-linux-musl': { version: '1.0.0', integrity: 'sha512-musl', os: ['linux'], libc: ['musl'] },
      'node_modules/ffi-not-win': { version: '1.0.0', integrity: 'sha512-any', os: ['!win32'] },
    };
    // What npm installs on an x64 glibc machine.
    const installedOnX64 = (path: string) =>
      path !== 'node_modules/ffi-linux-arm64' && path !== 'node_modules/ffi-linux-musl';

    it("takes the other architecture's platform packages from the registry, with the lockfile's version and integrity", () => {
      expect(placeProductionPackages(ffi, 'agent', installedOnX64, arm64)).toEqual([
        { source: 'node_modules/ffi', target: 'node_modules/ffi', workspace: false },
        {
          source: 'node_modules/ffi-linux-arm64',
          target: 'node_modules/ffi-linux-arm64',
          workspace: false,
          fetch: { name: 'ffi-linux-arm64', version: '1.0.0', integrity: 'sha512-arm' },
        },
        { source: 'node_modules/ffi-not-win', target: 'node_modules/ffi-not-win', workspace: false },
      ]);
    });

    it("leaves out this machine's platform packages from another architecture's bundle", () => {
      const targets = placeProductionPackages(ffi, 'agent', installedOnX64, arm64).map((entry) => entry.target);
      expect(targets).not.toContain('node_modules/ffi-linux-x64');
      expect(targets).not.toContain('node_modules/ffi-linux-musl');
    });

    it('places the installed packages of its own platform as before, fetching nothing', () => {
      const placed = placeProductionPackages(ffi, 'agent', installedOnX64, x64);
      expect(placed).toEqual(placeProductionPackages(ffi, 'agent', installedOnX64));
      expect(placed.some((entry) => entry.fetch)).toBe(false);
    });

    it('names the scope of a scoped package to fetch', () => {
      const scoped: LockPackages = {
        agent: { optionalDependencies: { '@koromix/koffi-linux-arm64': '3' } },
        'node_modules/@koromix/koffi-linux-arm64': { version: '3.3.4', integrity: 'sha512-k', cpu: ['arm64'] },
      };
      expect(placeProductionPackages(scoped, 'agent', () => false, arm64)[0].fetch).toEqual({
        name: '@koromix/koffi-linux-arm64',
        version: '3.3.4',
        integrity: 'sha512-k',
      });
    });

    it("takes koffi's arm64 binary for an arm64 bundle from the checkout's lockfile, and x64 bundles stay as they are", () => {
      const lock = JSON.parse(readFileSync(new URL('../../../package-lock.json', import.meta.url), 'utf8')) as {
        packages: LockPackages;
      };
      const root = new URL('../../../', import.meta.url);
      const installed = (path: string) => existsSync(new URL(path, root));
      const forArm64 = placeProductionPackages(lock.packages, 'host-agent', installed, arm64);
      const koffi = forArm64.find((entry) => entry.target === 'node_modules/@koromix/koffi-linux-arm64');
      expect(koffi?.fetch).toEqual({
        name: '@koromix/koffi-linux-arm64',
        version: lock.packages['node_modules/@koromix/koffi-linux-arm64'].version,
        integrity: lock.packages['node_modules/@koromix/koffi-linux-arm64'].integrity,
      });
      expect(forArm64.map((entry) => entry.target)).not.toContain('node_modules/@koromix/koffi-linux-x64');
      expect(forArm64.filter((entry) => entry.fetch).map((entry) => entry.target)).toEqual([
        'node_modules/@koromix/koffi-linux-arm64',
      ]);
      if (process.arch === 'x64') {
        expect(placeProductionPackages(lock.packages, 'host-agent', installed, x64)).toEqual(
          placeProductionPackages(lock.packages, 'host-agent', installed),
        );
      }
    });
  });
});
