/** The `packages` map of an npm v3 lockfile: install path (e.g. `node_modules/ws`) to its entry. */
export type LockPackages = Readonly<Record<string, LockEntry>>;

export interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  /** npm's platform fields of a package built for some platforms only, e.g. `["linux"]`, `["arm64"]`, `["!win32"]`. */
  os?: string[];
  cpu?: string[];
  libc?: string[];
}

/** The platform a bundle runs on, in Node's and npm's names. */
export interface BundlePlatform {
  os: string;
  cpu: string;
  libc: string;
}

export interface PlacedPackage {
  /** Where the package is in the checkout, relative to its root (its install path in the lockfile). */
  source: string;
  /** Where it goes in the bundle, relative to the agent's directory (`node_modules/...`). */
  target: string;
  /** A workspace package (linked), e.g. @skiff/protocol. */
  workspace: boolean;
  /**
   * Set when the package is not in the checkout because npm installed only this machine's
   * platform packages (koffi's prebuilt binary for arm64 on an x64 server): it is fetched from
   * the registry and checked against the lockfile's integrity.
   */
  fetch?: { name: string; version: string; integrity: string };
}

/**
 * The production dependencies (with the optional ones that are installed, such as koffi's
 * prebuilt binary for this platform) of the workspace package at `workspacePath`, found the way
 * Node resolves them, and where each goes under the bundle's `node_modules`. A package installed
 * nested (another version than the hoisted one) stays nested under its dependant.
 *
 * With a `platform`, the packages that npm marks for some platforms only (`os`, `cpu`, `libc`)
 * are taken for that platform instead of this machine's: the ones for other platforms are left
 * out even when installed, and the ones for it that are not installed are marked to `fetch`.
 */
export function placeProductionPackages(
  packages: LockPackages,
  workspacePath: string,
  isInstalled: (installPath: string) => boolean = () => true,
  platform?: BundlePlatform,
): PlacedPackage[] {
  const placed = new Map<string, PlacedPackage>();
  const root = packages[workspacePath];
  if (!root) throw new Error(`package-lock.json has no workspace ${workspacePath}`);

  const visit = (fromPath: string, fromTarget: string, entry: LockEntry): void => {
    const wanted = [
      ...Object.keys(entry.dependencies ?? {}).map((name) => ({ name, optional: false })),
      ...Object.keys(entry.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
    ];
    for (const { name, optional } of wanted) {
      const found = resolveInstallPath(packages, fromPath, name);
      const missing = `${name}, a dependency of ${fromPath || 'the root'}`;
      if (!found) {
        if (optional) continue;
        throw new Error(`${missing}, is not installed: run npm ci`);
      }
      const forPlatform = platform ? platformMatch(packages[found], platform) : 'any';
      if (forPlatform === 'other') {
        if (optional) continue;
        throw new Error(`${missing}, is not made for ${platform?.os}-${platform?.cpu}`);
      }
      let fromRegistry: PlacedPackage['fetch'];
      // Optional packages for other platforms are in the lockfile but not on disk.
      if (!isInstalled(found)) {
        if (forPlatform === 'this') fromRegistry = registryCoordinates(packages[found], found);
        else if (optional) continue;
        else throw new Error(`${missing}, is not installed: run npm ci`);
      }
      let sourcePath = found;
      let dependency = packages[found];
      let workspace = false;
      if (dependency.link) {
        sourcePath = dependency.resolved ?? found;
        dependency = packages[sourcePath] ?? {};
        workspace = true;
      }
      // Hoisted (top-level) packages go to the bundle's top level, nested ones under their dependant.
      const nestedUnder = found.lastIndexOf('/node_modules/');
      const target =
        nestedUnder > 0 && !found.startsWith(`${workspacePath}/node_modules/`)
          ? `${fromTarget}/node_modules/${name}`
          : `node_modules/${name}`;
      if (placed.has(target)) continue;
      placed.set(target, { source: sourcePath, target, workspace, ...(fromRegistry ? { fetch: fromRegistry } : {}) });
      visit(found, target, dependency);
    }
  };
  visit(workspacePath, '', root);
  return [...placed.values()].sort((a, b) => a.target.localeCompare(b.target));
}

/** Node's lookup: `<dir>/node_modules/<name>` from the dependant's own directory upwards. */
function resolveInstallPath(packages: LockPackages, fromPath: string, name: string): string | undefined {
  let dir = fromPath;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    if (cut >= 0) dir = dir.slice(0, cut);
    else dir = dir.includes('/') ? dir.slice(0, dir.lastIndexOf('/')) : '';
  }
}

/**
 * Whether a lockfile entry is for one platform only and which: `any` for an ordinary package,
 * `this` for a platform package that runs on `platform`, `other` for one that does not. Like npm
 * (npm-install-checks), a list holds names or `!names`; a package that names no libc runs on any.
 */
function platformMatch(entry: LockEntry, platform: BundlePlatform): 'any' | 'this' | 'other' {
  if (!entry.os && !entry.cpu && !entry.libc) return 'any';
  const allows = (list: string[] | undefined, value: string): boolean => {
    if (!list || list.length === 0) return true;
    if (list.includes(`!${value}`)) return false;
    const named = list.filter((item) => !item.startsWith('!'));
    return named.length === 0 || named.includes(value) || named.includes('any');
  };
  return allows(entry.os, platform.os) && allows(entry.cpu, platform.cpu) && allows(entry.libc, platform.libc)
    ? 'this'
    : 'other';
}

/** The name, version and integrity to fetch a package by; the name is the install path's last `node_modules/` part. */
function registryCoordinates(entry: LockEntry, installPath: string): NonNullable<PlacedPackage['fetch']> {
  const name = installPath.slice(installPath.lastIndexOf('node_modules/') + 'node_modules/'.length);
  if (!entry.version || !entry.integrity) {
    throw new Error(`package-lock.json names no version and integrity for ${installPath}: it cannot be fetched`);
  }
  return { name, version: entry.version, integrity: entry.integrity };
}
