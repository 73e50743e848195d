/** The `packages` map of an npm v3 lockfile: install path (e.g. `node_modules/ws`) to its entry. */
export type LockPackages = Readonly<Record<string, LockEntry>>;

export interface LockEntry {
  version?: string;
  resolved?: string;
  link?: boolean;
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

export interface PlacedPackage {
  /** Where the package is in the checkout, relative to its root. */
  source: string;
  /** Where it goes in the bundle, relative to the agent's directory (`node_modules/...`). */
  target: string;
  /** A workspace package (linked), e.g. @skiff/protocol. */
  workspace: boolean;
}

/**
 * The production dependencies (with the optional ones that are installed, such as koffi's
 * prebuilt binary for this platform) of the workspace package at `workspacePath`, found the way
 * Node resolves them, and where each goes under the bundle's `node_modules`. A package installed
 * nested (another version than the hoisted one) stays nested under its dependant.
 */
export function placeProductionPackages(
  packages: LockPackages,
  workspacePath: string,
  isInstalled: (installPath: string) => boolean = () => true,
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
      // Optional packages for other platforms are in the lockfile but not on disk.
      if (!found || !isInstalled(found)) {
        if (optional) continue;
        throw new Error(`${name}, a dependency of ${fromPath || 'the root'}, is not installed: run npm ci`);
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
      placed.set(target, { source: sourcePath, target, workspace });
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
