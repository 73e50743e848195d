import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type LockPackages, placeProductionPackages } from './agent-bundle-packages.js';

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
});
