import { describe, expect, it } from 'vitest';
import { evaluatePreflight, kernelAtLeast, parsePreflight } from './provisioning-preflight.js';

const HEALTHY = `uid=0
arch=x86_64
kernel=6.1.0-18-amd64
cgroup=v2
overlay=yes
free_opt_kb=20000000
free_state_kb=20000000
docker=no
skiff=no
systemd=yes
missing_tools=
`;

const failures = (output: string, kind: 'install' | 'upgrade' = 'install') =>
  evaluatePreflight(parsePreflight(output), { kind, arches: ['x64'] })
    .filter((check) => !check.ok)
    .map((check) => `${check.name}: ${check.message}`);

describe(evaluatePreflight.name, () => {
  it('passes a current x86_64 host with cgroup v2, overlayfs and room', () => {
    expect(failures(HEALTHY)).toEqual([]);
  });

  it('fails a host without overlayfs and says how to get it', () => {
    expect(failures(HEALTHY.replace('overlay=yes', 'overlay=no'))).toEqual([
      expect.stringMatching(/^overlayfs: the kernel has no overlay file system.*modprobe overlay/),
    ]);
  });

  it('accepts an overlay module that is not loaded yet, with a warning', () => {
    const checks = evaluatePreflight(parsePreflight(HEALTHY.replace('overlay=yes', 'overlay=module')), {
      kind: 'install',
      arches: ['x64'],
    });
    expect(checks.find((check) => check.name === 'overlayfs')).toMatchObject({ ok: true, warning: true });
  });

  it('takes an aarch64 host when the server can make an arm64 bundle', () => {
    const checks = evaluatePreflight(parsePreflight(HEALTHY.replace('x86_64', 'aarch64')), {
      kind: 'install',
      arches: ['x64', 'arm64'],
    });
    expect(checks.find((check) => check.name === 'architecture')).toMatchObject({
      ok: true,
      message: 'aarch64 (bundle linux-arm64)',
    });
  });

  it('refuses a kernel older than 5.8, an arm64 host this server has no bundle for, and no cgroups', () => {
    expect(
      failures(HEALTHY.replace('6.1.0-18-amd64', '4.19.0-26').replace('x86_64', 'aarch64').replace('v2', 'none')),
    ).toEqual([
      expect.stringMatching(
        /^architecture: architecture aarch64: this server can only make an agent bundle for x64 now: .*apt-get install gcc-aarch64-linux-gnu/,
      ),
      expect.stringMatching(/^kernel: Linux 4\.19\.0-26 is too old: the engine needs 5\.8/),
      expect.stringMatching(/^cgroups: no cgroup file system/),
    ]);
  });

  it('refuses to install over an existing Skiff, and to upgrade where there is none', () => {
    expect(failures(HEALTHY.replace('skiff=no', 'skiff=yes\nskiff_version=0.1.0+abc'))).toEqual([
      'skiff: Skiff is already installed here (0.1.0+abc): upgrade it, or uninstall it first',
    ]);
    expect(failures(HEALTHY, 'upgrade')).toEqual([
      'skiff: Skiff is not installed here (no /opt/skiff/current): install it instead',
    ]);
  });

  it('warns about an existing Docker but lets the install go on', () => {
    const checks = evaluatePreflight(parsePreflight(HEALTHY.replace('docker=no', 'docker=yes')), {
      kind: 'install',
      arches: ['x64'],
    });
    expect(checks.find((check) => check.name === 'docker')).toMatchObject({ ok: true, warning: true });
  });

  it('fails too little disk, a login that is not root and missing tools', () => {
    expect(
      failures(
        HEALTHY.replace('uid=0', 'uid=1000')
          .replace('free_state_kb=20000000', 'free_state_kb=1024')
          .replace('missing_tools=', 'missing_tools=setsid sha256sum'),
      ),
    ).toEqual([
      'root: runs as uid 1000, not root: log in as root or turn on sudo',
      'disk (/var/lib): only 1 MiB free under /var/lib/skiff, 1024 MiB needed: free some space',
      'tools: missing on the host: setsid, sha256sum: install them (coreutils, tar, util-linux, gawk or mawk)',
    ]);
  });
});

describe(kernelAtLeast.name, () => {
  it('compares major and minor numbers', () => {
    expect(kernelAtLeast('5.8.0', [5, 8])).toBe(true);
    expect(kernelAtLeast('5.10.0-28-amd64', [5, 8])).toBe(true);
    expect(kernelAtLeast('5.4.0', [5, 8])).toBe(false);
    expect(kernelAtLeast('garbage', [5, 8])).toBe(false);
  });
});
