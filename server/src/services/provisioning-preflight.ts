/** What `skiff-host.sh preflight` reports about a host, parsed. */
export interface PreflightFacts {
  uid: number | null;
  /** `uname -m`, e.g. x86_64 or aarch64. */
  arch: string;
  kernel: string;
  cgroup: 'v1' | 'v2' | 'none';
  overlay: 'yes' | 'module' | 'no';
  freeOptKb: number | null;
  freeStateKb: number | null;
  docker: boolean;
  skiff: boolean;
  skiffVersion: string | null;
  systemd: boolean;
  missingTools: string[];
}

export interface PreflightCheck {
  name: string;
  ok: boolean;
  /** Passed, but the operator should know (an existing Docker, an overlay module not loaded yet). */
  warning?: boolean;
  message: string;
}

/** The oldest kernel the engine runs on: `exec` joins a container through a pidfd (setns on pidfds, Linux 5.8). */
export const MIN_KERNEL: readonly [number, number] = [5, 8];
export const MIN_FREE_OPT_KB = 300 * 1024;
export const MIN_FREE_STATE_KB = 1024 * 1024;

const ARCHES: Readonly<Record<string, string>> = { x86_64: 'x64', amd64: 'x64', aarch64: 'arm64', arm64: 'arm64' };

export function parsePreflight(output: string): PreflightFacts {
  const values = new Map<string, string>();
  for (const line of output.split('\n')) {
    const equals = line.indexOf('=');
    if (equals > 0) values.set(line.slice(0, equals).trim(), line.slice(equals + 1).trim());
  }
  const number = (key: string): number | null => {
    const value = Number(values.get(key));
    return values.has(key) && Number.isFinite(value) ? value : null;
  };
  const cgroup = values.get('cgroup');
  const overlay = values.get('overlay');
  return {
    uid: number('uid'),
    arch: values.get('arch') ?? 'unknown',
    kernel: values.get('kernel') ?? 'unknown',
    cgroup: cgroup === 'v1' || cgroup === 'v2' ? cgroup : 'none',
    overlay: overlay === 'yes' || overlay === 'module' ? overlay : 'no',
    freeOptKb: number('free_opt_kb'),
    freeStateKb: number('free_state_kb'),
    docker: values.get('docker') === 'yes',
    skiff: values.get('skiff') === 'yes',
    skiffVersion: values.get('skiff_version') || null,
    systemd: values.get('systemd') === 'yes',
    missingTools: (values.get('missing_tools') ?? '').split(/\s+/).filter(Boolean),
  };
}

/** What a Debian server installs to cross-compile skiff-shim for an architecture. */
const CROSS_PACKAGES: Readonly<Record<string, string>> = {
  arm64: 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  x64: 'gcc-x86-64-linux-gnu libc6-dev-amd64-cross',
};

/** The Node.js architecture name of `uname -m`, or null for one Skiff has no agent for. */
export function bundleArchOf(unameMachine: string): string | null {
  return ARCHES[unameMachine] ?? null;
}

export function kernelAtLeast(release: string, [major, minor]: readonly [number, number]): boolean {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (!match) return false;
  const [found, foundMinor] = [Number(match[1]), Number(match[2])];
  return found > major || (found === major && foundMinor >= minor);
}

/**
 * The checks an install (or upgrade) needs to pass, each with a message that says what to do
 * when it does not. `arches` are the architectures this server can make a bundle for.
 */
export function evaluatePreflight(
  facts: PreflightFacts,
  job: { kind: 'install' | 'upgrade'; arches: readonly string[] },
): PreflightCheck[] {
  const checks: PreflightCheck[] = [];
  const add = (name: string, ok: boolean, message: string, warning = false) =>
    checks.push({ name, ok, message, ...(warning ? { warning } : {}) });

  add(
    'root',
    facts.uid === 0,
    facts.uid === 0 ? 'runs as root' : `runs as uid ${facts.uid ?? '?'}, not root: log in as root or turn on sudo`,
  );
  const arch = bundleArchOf(facts.arch);
  if (arch === null) {
    add('architecture', false, `architecture ${facts.arch} is not supported: Skiff runs on x86_64 and aarch64`);
  } else if (!job.arches.includes(arch)) {
    add(
      'architecture',
      false,
      `architecture ${facts.arch}: this server can only make an agent bundle for ${job.arches.join(', ') || 'no architecture'} ` +
        `now: skiff-shim for ${arch} is cross-compiled, so install the cross compiler on the server ` +
        `(Debian: apt-get install ${CROSS_PACKAGES[arch] ?? `gcc for ${arch}`}) and run the job again`,
    );
  } else {
    add('architecture', true, `${facts.arch} (bundle linux-${arch})`);
  }
  add(
    'kernel',
    kernelAtLeast(facts.kernel, MIN_KERNEL),
    kernelAtLeast(facts.kernel, MIN_KERNEL)
      ? `Linux ${facts.kernel}`
      : `Linux ${facts.kernel} is too old: the engine needs ${MIN_KERNEL.join('.')} or newer (pidfd setns); upgrade the kernel`,
  );
  add(
    'cgroups',
    facts.cgroup !== 'none',
    facts.cgroup === 'none'
      ? 'no cgroup file system is mounted at /sys/fs/cgroup: mount cgroup2 there'
      : `cgroup ${facts.cgroup}`,
  );
  if (facts.overlay === 'no') {
    add(
      'overlayfs',
      false,
      'the kernel has no overlay file system (not in /proc/filesystems and no overlay module): ' +
        'containers need it; load it (modprobe overlay) or use a kernel built with CONFIG_OVERLAY_FS',
    );
  } else {
    add(
      'overlayfs',
      true,
      facts.overlay === 'yes' ? 'overlayfs available' : 'overlayfs module present (loads on first use)',
      facts.overlay === 'module',
    );
  }
  const freeCheck = (name: string, free: number | null, need: number, path: string) =>
    add(
      name,
      free !== null && free >= need,
      free === null
        ? `cannot tell the free space under ${path}`
        : free >= need
          ? `${Math.floor(free / 1024)} MiB free under ${path}`
          : `only ${Math.floor(free / 1024)} MiB free under ${path}, ${need / 1024} MiB needed: free some space`,
    );
  freeCheck('disk (/opt)', facts.freeOptKb, MIN_FREE_OPT_KB, '/opt/skiff');
  freeCheck('disk (/var/lib)', facts.freeStateKb, MIN_FREE_STATE_KB, '/var/lib/skiff');
  add(
    'tools',
    facts.missingTools.length === 0,
    facts.missingTools.length === 0
      ? 'tar, sha256sum, setsid, df and awk present'
      : `missing on the host: ${facts.missingTools.join(', ')}: install them (coreutils, tar, util-linux, gawk or mawk)`,
  );
  if (facts.docker) {
    add('docker', true, 'Docker is installed: Skiff runs beside it, with its own socket /run/skiff/docker.sock', true);
  }
  if (job.kind === 'install') {
    add(
      'skiff',
      !facts.skiff,
      facts.skiff
        ? `Skiff is already installed here${facts.skiffVersion ? ` (${facts.skiffVersion})` : ''}: upgrade it, or uninstall it first`
        : 'no Skiff installed yet',
    );
  } else {
    add(
      'skiff',
      facts.skiff && facts.skiffVersion !== null,
      facts.skiff && facts.skiffVersion !== null
        ? `Skiff ${facts.skiffVersion} installed`
        : 'Skiff is not installed here (no /opt/skiff/current): install it instead',
    );
  }
  return checks;
}
