/**
 * skiff-shim for real: root, namespaces, overlayfs and cgroup v1 on this machine. Each test
 * starts a busybox container and asserts on what a user of `docker run` would see.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  capabilityMask,
  CAPABILITY_NAMES,
  computeCapabilities,
  processCapabilities,
  type CapabilityName,
} from './capabilities.js';
import { compileSeccompFilter } from '../seccomp/seccomp-bpf.js';
import { parseSeccompProfile } from '../seccomp/seccomp-profile.js';
import { selectSeccompRules } from '../seccomp/seccomp-rules.js';
import { dockerFilesystem, type DockerFilesystemOptions } from './docker-filesystem.js';
import { dockerInit } from './docker-init.js';
import { attachSocketPath, attachToShim, resizeShim, type ShimAttachment } from './shim-attach.js';
import type { ShimExecPlan, ShimPlan, ShimSeccomp } from './shim-plan.js';
import {
  ShimStartError,
  startExec,
  startShim,
  type ShimExitStatus,
  type StartedContainer,
  type StartedExec,
} from './shim-runner.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
const shimPath = join(repoRoot, 'host-agent/shim/build/skiff-shim');
const initPath = join(repoRoot, 'host-agent/shim/build/skiff-init');
const isRoot = process.getuid?.() === 0;
const MEMORY_CGROUP_ROOT = '/sys/fs/cgroup/memory';
/** The cgroup2 mount of this hybrid host (cgroup v1 controllers, and a v2 tree without them). */
const UNIFIED_CGROUP_ROOT = '/sys/fs/cgroup/unified';

interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

interface Container {
  dir: string;
  plan: ShimPlan;
  upper: string;
  started: StartedContainer;
}

interface Finished extends Container {
  status: ShimExitStatus;
  entries: LogEntry[];
  stdout: string;
  stderr: string;
}

interface PlanOptions {
  args: string[];
  filesystem?: DockerFilesystemOptions;
  lowerDirs?: string[];
  change?: (plan: ShimPlan) => void;
  passFds?: number[];
}

let base = '';
let lower = '';
let counter = 0;
const running = new Set<StartedContainer>();
const cgroupsToRemove: string[] = [];

/** Debian's busybox-static, installed if missing (the dpkg lock may be held by another install). */
function ensureBusybox(): string {
  if (!existsSync('/bin/busybox')) {
    execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', 'busybox-static'], { stdio: 'ignore' });
  }
  return '/bin/busybox';
}

/** One image layer: busybox, a symlink per applet, /etc/passwd and /etc/group. */
function makeBusyboxLayer(dir: string): void {
  const busybox = ensureBusybox();
  for (const sub of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'mnt'])
    mkdirSync(join(dir, sub), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  writeFileSync(join(dir, 'bin/busybox'), readFileSync(busybox), { mode: 0o755 });
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) if (applet !== 'busybox') symlinkSync('busybox', join(dir, 'bin', applet));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\ntty:x:5:\nuser:x:1000:\n');
}

function basePlan(dir: string, options: PlanOptions): ShimPlan {
  const fs = dockerFilesystem(options.filesystem);
  const plan: ShimPlan = {
    stateDir: join(dir, 'state'),
    logPath: join(dir, 'state', 'container-json.log'),
    namespaces: ['pid', 'mount', 'uts', 'ipc', 'net', 'cgroup'],
    rootfs: {
      kind: 'overlay',
      target: join(dir, 'rootfs'),
      lowerDirs: options.lowerDirs ?? [lower],
      upperDir: join(dir, 'upper'),
      workDir: join(dir, 'work'),
    },
    ...fs,
    hostname: 'skiff-test',
    loopbackUp: true,
    capabilities: processCapabilities(computeCapabilities()),
    user: { uid: 0, gid: 0 },
    cwd: '/',
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'],
    args: options.args,
    noNewPrivileges: true,
    stdio: { stdin: { kind: 'null' }, stdout: { kind: 'log' }, stderr: { kind: 'log' } },
  };
  options.change?.(plan);
  return plan;
}

function newContainerDir(): string {
  const dir = join(base, `c${++counter}`);
  for (const sub of ['state', 'upper', 'work', 'rootfs']) mkdirSync(join(dir, sub), { recursive: true });
  return dir;
}

async function start(options: PlanOptions, dir = newContainerDir()): Promise<Container> {
  const plan = basePlan(dir, options);
  const started = await startShim({ shimPath, plan, passFds: options.passFds });
  running.add(started);
  void started.exited.finally(() => running.delete(started));
  return { dir, plan, upper: join(dir, 'upper'), started };
}

function readLog(plan: ShimPlan): LogEntry[] {
  if (!plan.logPath || !existsSync(plan.logPath)) return [];
  return readFileSync(plan.logPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogEntry);
}

async function finish(container: Container): Promise<Finished> {
  const status = await container.started.exited;
  const entries = readLog(container.plan);
  const text = (stream: string) =>
    entries
      .filter((e) => e.stream === stream)
      .map((e) => e.log)
      .join('');
  return { ...container, status, entries, stdout: text('stdout'), stderr: text('stderr') };
}

async function run(options: PlanOptions): Promise<Finished> {
  return finish(await start(options));
}

/** `sh -c script` in a fresh container. */
function sh(script: string, more: Omit<PlanOptions, 'args'> = {}): Promise<Finished> {
  return run({ args: ['sh', '-c', script], ...more });
}

async function waitForLog(plan: ShimPlan, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (readLog(plan).some((e) => e.log.includes(text))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no log line with ${JSON.stringify(text)} within ${timeoutMs} ms`);
}

function makeMemoryCgroup(root = MEMORY_CGROUP_ROOT): string {
  const dir = join(root, `skiff-test-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  cgroupsToRemove.push(dir);
  return dir;
}

/** rmdir of a cgroup can fail with EBUSY for a moment after its last task is reaped. */
async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (existsSync(dir)) rmdirSync(dir);
      return;
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function mountsUnder(path: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.split(' ')[4]?.startsWith(path));
}

function hostCapabilities(): CapabilityName[] {
  const line = readFileSync('/proc/self/status', 'utf8').match(/^CapBnd:\s*([0-9a-f]+)$/m);
  const mask = BigInt(`0x${line?.[1] ?? '0'}`);
  return CAPABILITY_NAMES.filter((_, n) => (mask >> BigInt(n)) & 1n);
}

const statusField = (stdout: string, field: string) =>
  stdout.match(new RegExp(`^${field}:\\s*(.*)$`, 'm'))?.[1]?.trim();

/** Everything an attach client receives, per stream. */
interface Received {
  stdout: string;
  stderr: string;
  systemerr: string;
}

function received(attachment: ShimAttachment): Received {
  const got: Received = { stdout: '', stderr: '', systemerr: '' };
  attachment.on('output', (stream, data) => (got[stream] += data.toString('utf8')));
  return got;
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const attached = (change?: (plan: ShimPlan) => void) => (plan: ShimPlan) => {
  plan.attach = { holdUntilStart: true };
  change?.(plan);
};

const withStdin = (plan: ShimPlan) => {
  plan.stdio.stdin = { kind: 'attach' };
};

const withTerminal = (rows: number, cols: number) => (plan: ShimPlan) => {
  plan.terminal = { rows, cols };
  plan.stdio.stdin = { kind: 'attach' };
};

/** A `docker exec` plan for a running container: its own state dir, the container's pid and shim. */
function execPlan(container: Container, args: string[], change?: (plan: ShimExecPlan) => void): ShimExecPlan {
  const stateDir = join(container.dir, `exec-${++counter}`);
  mkdirSync(stateDir);
  const plan: ShimExecPlan = {
    stateDir,
    container: { pid: container.started.pid, shimPid: container.started.shimPid },
    capabilities: processCapabilities(computeCapabilities()),
    user: { uid: 0, gid: 0 },
    cwd: '/',
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'],
    args,
    noNewPrivileges: true,
    stdio: { stdin: { kind: 'null' }, stdout: { kind: 'log' }, stderr: { kind: 'log' } },
    attach: { holdUntilStart: true },
  };
  change?.(plan);
  return plan;
}

async function exec(plan: ShimExecPlan): Promise<StartedExec> {
  const started = await startExec({ shimPath, plan });
  running.add(started);
  void started.exited.finally(() => running.delete(started));
  return started;
}

/** Runs an exec to its end: what its attach client got, and its exit status. */
async function execToEnd(plan: ShimExecPlan): Promise<Received & { status: ShimExitStatus }> {
  const started = await exec(plan);
  const attachment = started.attachment as ShimAttachment;
  const got = received(attachment);
  attachment.start();
  const status = await attachment.closed;
  if (!status) throw new Error('the exec ended without an exit status');
  expect(await started.exited).toEqual(status);
  return { ...got, status };
}

/** A filter that allows everything but mkdir and mkdirat, which fail with EACCES. */
function noMkdirFilter(): ShimSeccomp {
  const profile = parseSeccompProfile({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
  })!;
  const rules = selectSeccompRules(profile, { hostArch: process.arch, capabilities: [], kernelRelease: '6.1' });
  return { instructions: compileSeccompFilter(rules), flags: rules.flags };
}

/** A `sleep` container that runs until the test ends. */
async function sleeper(change?: (plan: ShimPlan) => void): Promise<Container> {
  const container = await start({ args: ['sh', '-c', 'echo ready; exec sleep 60'], change });
  await waitForLog(container.plan, 'ready');
  return container;
}

describe.skipIf(!isRoot && !process.env.CI)('skiff-shim (as root, for real)', () => {
  beforeAll(() => {
    if (!isRoot) throw new Error('the skiff-shim integration tests need root (CI is set, so they may not be skipped)');
    execFileSync(process.execPath, [join(repoRoot, 'host-agent/scripts/build-shim.mjs'), '--quiet'], {
      stdio: 'inherit',
    });
    base = mkdtempSync('/tmp/skiff-shim-int-');
    chmodSync(base, 0o755); // a user namespace's root must reach the layers
    lower = join(base, 'busybox-layer');
    makeBusyboxLayer(lower);
  });

  afterEach(async () => {
    for (const started of running) {
      try {
        process.kill(started.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await started.exited.catch(() => undefined);
    }
    for (const dir of cgroupsToRemove.splice(0)) await removeCgroup(dir);
  });

  afterAll(() => {
    if (!base) return;
    // Containers mount inside their own mount namespaces; anything here would be a leak.
    for (const line of mountsUnder(base).reverse()) spawnSync('umount', ['-l', line.split(' ')[4] ?? '']);
    rmSync(base, { recursive: true, force: true });
  });

  describe('output and exit status', () => {
    it('writes what the container prints to the json-file log, line by line, per stream', async () => {
      const { entries, status } = await sh('echo hi; echo oops >&2; printf "no newline"');
      expect(status.exitCode).toBe(0);
      expect(entries.map(({ log, stream }) => ({ log, stream }))).toEqual([
        { log: 'hi\n', stream: 'stdout' },
        { log: 'oops\n', stream: 'stderr' },
        { log: 'no newline', stream: 'stdout' },
      ]);
      for (const entry of entries) expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    });

    it('records the exit code of pid 1', async () => {
      const { status } = await sh('exit 7');
      expect(status).toMatchObject({ exitCode: 7, signal: 0, oomKilled: false });
      expect(Date.parse(status.finishedAt)).toBeGreaterThanOrEqual(Date.parse(status.startedAt));
    });

    it('records 128 + signal when pid 1 is killed', async () => {
      const container = await start({ args: ['sleep', '30'] });
      process.kill(container.started.pid, 'SIGKILL');
      const { status } = await finish(container);
      expect(status).toMatchObject({ exitCode: 137, signal: 9 });
    });

    it('passes SIGTERM sent to the shim on to pid 1', async () => {
      const container = await start({
        args: ['sh', '-c', 'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.05; done'],
      });
      await waitForLog(container.plan, 'ready');
      container.started.forwardSignal('SIGTERM');
      const { status, stdout } = await finish(container);
      expect(stdout).toContain('got TERM');
      expect(status.exitCode).toBe(3);
    });

    it('restores SIGPIPE, which Node ignores: `yes | head` ends yes with status 141', async () => {
      const { stdout, stderr, status } = await sh('(yes; echo "yes=$?" >&2) | head -n 1; echo done');
      expect(stdout).toBe('y\ndone\n');
      expect(stderr).toBe('yes=141\n');
      expect(status.exitCode).toBe(0);
    });

    it('keeps running and logging after the process that started it has gone', async () => {
      const dir = newContainerDir();
      const plan = basePlan(dir, { args: ['sh', '-c', 'sleep 0.3; echo still here'] });
      const { serialiseShimPlan } = await import('./shim-plan-serialiser.js');
      writeFileSync(join(dir, 'state/shim.plan'), serialiseShimPlan(plan));
      // A shell starts the shim in the background and exits at once, as a crashing agent would.
      execFileSync('sh', ['-c', `"${shimPath}" run --plan "${dir}/state/shim.plan" --report-fd 3 3>"${dir}/report" &`]);
      const deadline = Date.now() + 10_000;
      while (!existsSync(join(dir, 'state/exit.json')) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(readFileSync(join(dir, 'report'), 'utf8')).toMatch(/^started \d+ \d+\n$/);
      expect(JSON.parse(readFileSync(join(dir, 'state/exit.json'), 'utf8'))).toMatchObject({ exitCode: 0 });
      expect(readLog(plan).map((e) => e.log)).toEqual(['still here\n']);
    });
  });

  describe('namespaces', () => {
    it("gives the container its own pid namespace, with the container's command as pid 1", async () => {
      const { stdout } = await sh('echo "self=$$"; tr "\\0" " " < /proc/1/cmdline; echo; ps -o pid= | wc -l');
      const [self, cmdline, processes] = stdout.split('\n');
      expect(self).toBe('self=1');
      expect(cmdline).toMatch(/^sh -c echo "self=\$\$"/);
      expect(Number(processes)).toBeLessThanOrEqual(4); // sh, ps, wc and at most a subshell
    });

    it("sets the container's hostname and leaves the host's alone", async () => {
      const before = hostname();
      const { stdout } = await sh('hostname; cat /proc/sys/kernel/hostname');
      expect(stdout).toBe('skiff-test\nskiff-test\n');
      expect(hostname()).toBe(before);
    });

    it('gives network mode none a network namespace with only lo, and lo is up', async () => {
      const { stdout } = await sh('ls /sys/class/net; ip -o link');
      const [names, ...links] = stdout.trim().split('\n');
      expect(names).toBe('lo');
      expect(links).toHaveLength(1);
      expect(links[0]).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    });

    it("shares the host's network in network mode host", async () => {
      const { stdout } = await sh('ls /sys/class/net', {
        change: (plan) => {
          plan.namespaces = plan.namespaces.filter((ns) => ns !== 'net');
          plan.loopbackUp = false;
        },
      });
      expect(stdout.trim().split(/\s+/).sort()).toEqual(readdirSync('/sys/class/net').sort());
    });

    it('maps root to an unprivileged host user in a user namespace', async () => {
      const dir = newContainerDir();
      for (const sub of ['upper', 'work']) chownSync(join(dir, sub), 100000, 100000);
      const container = await start(
        {
          args: [
            'sh',
            '-c',
            'cat /proc/self/uid_map; grep -E "^(Uid|Gid)" /proc/self/status; echo hi > /made-here; ls /dev/null /dev/zero',
          ],
          change: (plan) => {
            plan.namespaces.push('user');
            plan.uidMappings = [{ insideId: 0, outsideId: 100000, count: 65536 }];
            plan.gidMappings = [{ insideId: 0, outsideId: 100000, count: 65536 }];
          },
        },
        dir,
      );
      const { stdout, stderr, status, upper } = await finish(container);
      expect(stderr).toBe('');
      expect(status.exitCode).toBe(0);
      expect(stdout.split('\n')[0]?.trim().split(/\s+/)).toEqual(['0', '100000', '65536']);
      expect(statusField(stdout, 'Uid')).toBe('0\t0\t0\t0');
      expect(statSync(join(upper, 'made-here')).uid).toBe(100000);
    });
  });

  describe('filesystem', () => {
    it('writes into the upper dir and leaves the image layer untouched', async () => {
      const { status, upper } = await sh('echo data > /newfile && rm /bin/true && echo changed > /etc/group');
      expect(status.exitCode).toBe(0);
      expect(readFileSync(join(upper, 'newfile'), 'utf8')).toBe('data\n');
      expect(existsSync(join(lower, 'newfile'))).toBe(false);
      expect(existsSync(join(lower, 'bin/true'))).toBe(true);
      expect(readFileSync(join(lower, 'etc/group'), 'utf8')).toContain('root:x:0:');
    });

    it('makes /dev a tmpfs with the standard nodes, devpts, /dev/shm and mqueue', async () => {
      const { stdout, status } = await sh(
        'ls /dev | tr "\\n" " "; echo; stat -c "%n %F %t:%T %a" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; ' +
          'echo x > /dev/null && head -c 4 /dev/urandom | wc -c; grep -E " /dev(/pts|/shm|/mqueue)? " /proc/self/mountinfo | cut -d" " -f5,8',
      );
      expect(status.exitCode).toBe(0);
      const [listing, ...rest] = stdout.split('\n');
      expect(listing?.trim().split(' ').sort()).toEqual(
        [
          'full',
          'fd',
          'mqueue',
          'null',
          'ptmx',
          'pts',
          'random',
          'shm',
          'stderr',
          'stdin',
          'stdout',
          'tty',
          'urandom',
          'zero',
        ].sort(),
      );
      expect(rest.slice(0, 6)).toEqual([
        '/dev/null character special file 1:3 666',
        '/dev/zero character special file 1:5 666',
        '/dev/full character special file 1:7 666',
        '/dev/random character special file 1:8 666',
        '/dev/urandom character special file 1:9 666',
        '/dev/tty character special file 5:0 666',
      ]);
      expect(rest[6]?.trim()).toBe('4');
      expect(rest.slice(7, 11)).toEqual(['/dev tmpfs', '/dev/pts devpts', '/dev/mqueue mqueue', '/dev/shm tmpfs']);
    });

    it("holds only the container's own mounts: the host's old root is detached", async () => {
      const { stdout } = await sh('cut -d" " -f5 /proc/self/mountinfo');
      const present = (paths: string[]) => paths.filter((path) => existsSync(path));
      expect(stdout.trim().split('\n').sort()).toEqual(
        [
          '/',
          '/proc',
          '/dev',
          '/dev/pts',
          '/sys',
          '/dev/mqueue',
          '/dev/shm',
          ...present([
            '/proc/asound',
            '/proc/acpi',
            '/proc/interrupts',
            '/proc/kcore',
            '/proc/keys',
            '/proc/latency_stats',
          ]),
          ...present(['/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware']),
          ...present([
            '/sys/devices/virtual/powercap',
            '/proc/bus',
            '/proc/fs',
            '/proc/irq',
            '/proc/sys',
            '/proc/sysrq-trigger',
          ]),
        ].sort(),
      );
    });

    it('mounts /sys read-only', async () => {
      const { stdout, stderr } = await sh(
        'grep " /sys " /proc/self/mountinfo | cut -d" " -f6; echo 65536 > /sys/class/net/lo/mtu',
      );
      expect(stdout.split(',')[0]).toBe('ro');
      expect(stderr).toMatch(/Read-only file system/);
    });

    it('masks the host kernel files that exist here and makes /proc/sys read-only', async () => {
      // This kernel has no /proc/kcore or /proc/sysrq-trigger; those that exist show the rules work.
      expect(statSync('/proc/timer_list').isFile()).toBe(true);
      expect(readFileSync('/proc/keys').length).toBeGreaterThan(0);
      const { stdout, stderr } = await sh(
        'wc -c < /proc/timer_list; wc -c < /proc/keys; ls -A /proc/acpi | wc -l; ls -A /sys/firmware | wc -l; echo x > /proc/sys/kernel/domainname',
      );
      expect(stdout.split('\n').map((n) => n.trim())).toEqual(['0', '0', '0', '0', '']);
      expect(stderr).toMatch(/can't create \/proc\/sys\/kernel\/domainname: Read-only file system/);
    });

    it('masks /proc/kcore and makes /proc/sysrq-trigger read-only where the kernel has them', async () => {
      const { stdout, stderr } = await sh(
        '[ -e /proc/kcore ] && wc -c < /proc/kcore; [ -e /proc/sysrq-trigger ] && echo h > /proc/sysrq-trigger; echo end',
      );
      if (existsSync('/proc/kcore')) expect(stdout.split('\n')[0]?.trim()).toBe('0');
      if (existsSync('/proc/sysrq-trigger')) expect(stderr).toMatch(/Read-only file system/);
      expect(stdout).toContain('end');
    });

    it('mounts a tmpfs with a size limit', async () => {
      const { stdout, stderr } = await sh(
        'df -k /scratch | tail -n 1; dd if=/dev/zero of=/scratch/f bs=1k count=2048',
        {
          change: (plan) =>
            plan.mounts.push({
              type: 'tmpfs',
              source: 'tmpfs',
              target: '/scratch',
              flags: ['nosuid', 'nodev'],
              data: 'size=1m,mode=1777',
            }),
        },
      );
      expect(stdout.trim().split(/\s+/)[1]).toBe('1024');
      expect(stderr).toMatch(/No space left on device/);
    });

    it('refuses writes through a read-only bind mount, and a writable one writes through to the host', async () => {
      const ro = join(base, `ro-${counter}`);
      const rw = join(base, `rw-${counter}`);
      mkdirSync(ro);
      mkdirSync(rw);
      writeFileSync(join(ro, 'hello'), 'from the host\n');
      const { stdout, stderr } = await sh('cat /data/hello; touch /data/new; echo out > /volume/file', {
        change: (plan) =>
          plan.mounts.push(
            { type: 'bind', source: ro, target: '/data', flags: ['rdonly', 'rec'] },
            { type: 'bind', source: rw, target: '/volume', flags: ['rec'] },
          ),
      });
      expect(stdout).toBe('from the host\n');
      expect(stderr).toMatch(/touch: \/data\/new: Read-only file system/);
      expect(readdirSync(ro)).toEqual(['hello']);
      expect(readFileSync(join(rw, 'file'), 'utf8')).toBe('out\n');
    });

    it('makes the whole rootfs read-only with --read-only', async () => {
      const { stderr, status } = await sh('touch /x', { change: (plan) => (plan.readonlyRootfs = true) });
      expect(stderr).toMatch(/Read-only file system/);
      expect(status.exitCode).toBe(1);
    });

    it('resolves a mount target that is a symlink out of the rootfs inside the rootfs (CVE-2021-30465 class)', async () => {
      const secret = join(base, `host-secret-${counter}`);
      mkdirSync(secret);
      writeFileSync(join(secret, 'marker'), 'host\n');
      const payload = join(base, `payload-${counter}`);
      mkdirSync(payload);
      writeFileSync(join(payload, 'inside'), 'payload\n');
      const evil = join(base, `evil-layer-${counter}`);
      mkdirSync(evil);
      symlinkSync(secret, join(evil, 'escape-absolute'));
      symlinkSync(`../../../../../../../..${secret}`, join(evil, 'escape-relative'));

      const { stdout, stderr, status, upper } = await sh(
        'cat /escape-absolute/sub/inside; ls /escape-relative/tmp-sub && echo mounted',
        {
          lowerDirs: [evil, lower],
          change: (plan) =>
            plan.mounts.push(
              { type: 'bind', source: payload, target: '/escape-absolute/sub', flags: ['rec'] },
              { type: 'tmpfs', source: 'tmpfs', target: '/escape-relative/tmp-sub' },
            ),
        },
      );
      expect(stderr).toBe('');
      expect(status.exitCode).toBe(0);
      expect(stdout).toBe('payload\nmounted\n');
      // Nothing was created in, or mounted on, the host directory the symlinks name…
      expect(readdirSync(secret)).toEqual(['marker']);
      expect(mountsUnder(secret)).toEqual([]);
      // …the targets were made inside the container's own filesystem instead.
      expect(statSync(join(upper, secret, 'sub')).isDirectory()).toBe(true);
      expect(statSync(join(upper, secret, 'tmp-sub')).isDirectory()).toBe(true);
    });

    it('creates a missing working directory and starts there', async () => {
      const { stdout } = await sh('pwd', { change: (plan) => (plan.cwd = '/srv/app/work') });
      expect(stdout).toBe('/srv/app/work\n');
    });
  });

  describe('privileges', () => {
    it("gives Docker's default 14 capabilities and no_new_privs", async () => {
      const { stdout } = await sh('grep -E "^(Cap|NoNewPrivs)" /proc/self/status');
      expect(statusField(stdout, 'CapEff')).toBe('00000000a80425fb');
      expect(statusField(stdout, 'CapPrm')).toBe('00000000a80425fb');
      expect(statusField(stdout, 'CapBnd')).toBe('00000000a80425fb');
      expect(statusField(stdout, 'CapInh')).toBe('0000000000000000');
      expect(statusField(stdout, 'CapAmb')).toBe('0000000000000000');
      expect(statusField(stdout, 'NoNewPrivs')).toBe('1');
    });

    it('applies --cap-add and --cap-drop', async () => {
      const caps = computeCapabilities({ capAdd: ['NET_ADMIN'], capDrop: ['CHOWN', 'MKNOD'] });
      const { stdout, stderr } = await sh(
        'grep CapEff /proc/self/status; ip link set lo mtu 1500 && echo net-admin; mknod /tmp/n c 1 3',
        {
          change: (plan) => (plan.capabilities = processCapabilities(caps)),
        },
      );
      expect(statusField(stdout, 'CapEff')).toBe(capabilityMask(caps).toString(16).padStart(16, '0'));
      expect(stdout).toContain('net-admin');
      expect(stderr).toMatch(/mknod: \/tmp\/n: Operation not permitted/);
    });

    it('refuses mount without CAP_SYS_ADMIN', async () => {
      const { stderr, status } = await sh('mount -t tmpfs none /mnt');
      // busybox words EPERM from mount(2) as "permission denied (are you root?)"
      expect(stderr).toMatch(/mount: permission denied/);
      expect(status.exitCode).not.toBe(0);
    });

    it('runs as the planned user and groups, with rlimits, environment and umask', async () => {
      const { stdout } = await sh(
        'grep -E "^(Uid|Gid|Groups|CapEff)" /proc/self/status; ulimit -n; ulimit -Hn; echo "$FOO"; umask; touch /tmp/mine && stat -c %u:%g /tmp/mine',
        {
          change: (plan) => {
            plan.user = { uid: 1000, gid: 1000, additionalGids: [10, 20] };
            plan.rlimits = [{ type: 'nofile', soft: 512, hard: 1024 }];
            plan.env.push('FOO=bar baz');
            plan.umask = 0o027;
          },
        },
      );
      expect(statusField(stdout, 'Uid')).toBe('1000\t1000\t1000\t1000');
      expect(statusField(stdout, 'Gid')).toBe('1000\t1000\t1000\t1000');
      expect(statusField(stdout, 'Groups')).toBe('10 20');
      expect(statusField(stdout, 'CapEff')).toBe('0000000000000000'); // a non-root user keeps none across exec
      expect(stdout.split('\n').slice(4)).toEqual(['512', '1024', 'bar baz', '0027', '1000:1000', '']);
    });

    it('gives --privileged every capability of the host, a writable /sys and no masked paths', async () => {
      const available = hostCapabilities();
      const { stdout } = await sh(
        'grep CapEff /proc/self/status; grep " /sys " /proc/self/mountinfo | cut -d" " -f6; wc -c < /proc/timer_list',
        {
          filesystem: { privileged: true },
          change: (plan) =>
            (plan.capabilities = processCapabilities(computeCapabilities({ privileged: true, available }))),
        },
      );
      const [capEff, sysOptions, timerList] = stdout.split('\n');
      expect(capEff?.split(/\s+/)[1]).toBe(capabilityMask(available).toString(16).padStart(16, '0'));
      expect(sysOptions?.split(',')[0]).toBe('rw');
      expect(Number(timerList)).toBeGreaterThan(0);
    });

    it('hands no descriptor of the agent or the shim to the container (CVE-2024-21626 class)', async () => {
      const leak = openSync(join(base, `leak-${counter}`), 'w'); // without O_CLOEXEC in the shim: passed on fd 4
      try {
        // The shim opens each v1 cgroup's "tasks" and the v2 cgroup's directory for pid 1 to join by.
        const cgroups = [makeMemoryCgroup(), makeMemoryCgroup(UNIFIED_CGROUP_ROOT)];
        const { stdout } = await sh(
          'ls /proc/self/fd | tr "\\n" " "; echo; for fd in /proc/self/fd/*; do readlink $fd; done',
          { passFds: [leak], change: (plan) => (plan.cgroup = { paths: cgroups }) },
        );
        const [names, ...targets] = stdout.trim().split('\n');
        // 0: /dev/null, 1 and 2: the log pipes, 3: the directory ls (then the shell's glob) is reading
        expect(names?.trim().split(' ')).toEqual(['0', '1', '2', '3']);
        expect(targets[0]).toBe('/dev/null');
        expect(targets[1]).toMatch(/^pipe:/);
        expect(targets[2]).toMatch(/^pipe:/);
        expect(stdout).not.toContain('leak-');
      } finally {
        closeSync(leak);
      }
    });
  });

  describe('cgroups', () => {
    it('puts pid 1 into the planned cgroup before it runs, and keeps the shim out of it', async () => {
      const cgroup = makeMemoryCgroup();
      const container = await start({
        args: ['sh', '-c', 'grep memory /proc/self/cgroup; echo ready; sleep 30'],
        change: (plan) => (plan.cgroup = { paths: [cgroup] }),
      });
      await waitForLog(container.plan, 'ready');
      const name = cgroup.slice(MEMORY_CGROUP_ROOT.length);
      expect(readFileSync(`/proc/${container.started.pid}/cgroup`, 'utf8')).toContain(`:memory:${name}\n`);
      expect(readFileSync(join(cgroup, 'cgroup.procs'), 'utf8')).toContain(`${container.started.pid}\n`);
      expect(readFileSync(`/proc/${container.started.shimPid}/cgroup`, 'utf8')).not.toContain(name);
      process.kill(container.started.pid, 'SIGKILL');
      const { stdout } = await finish(container);
      // With its own cgroup namespace, the container sees its cgroup as the root.
      expect(stdout).toMatch(/^\d+:memory:\/\n/);
      await removeCgroup(cgroup);
      expect(existsSync(cgroup)).toBe(false);
    });

    it('records an OOM kill', async () => {
      const cgroup = makeMemoryCgroup();
      writeFileSync(join(cgroup, 'memory.limit_in_bytes'), String(20 * 1024 * 1024));
      if (existsSync(join(cgroup, 'memory.memsw.limit_in_bytes')))
        writeFileSync(join(cgroup, 'memory.memsw.limit_in_bytes'), String(20 * 1024 * 1024));
      const { status } = await run({
        args: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'],
        change: (plan) => (plan.cgroup = { paths: [cgroup], oomEventsFile: join(cgroup, 'memory.oom_control') }),
      });
      expect(status).toMatchObject({ exitCode: 137, signal: 9, oomKilled: true });
    });

    it('shows the container its own cgroup under a read-only /sys/fs/cgroup (v1)', async () => {
      const cgroup = makeMemoryCgroup();
      writeFileSync(join(cgroup, 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
      const { stdout, stderr } = await sh(
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; mkdir /sys/fs/cgroup/memory/x',
        {
          filesystem: { cgroup: { version: 1, hierarchies: [{ name: 'memory', options: 'memory' }] } },
          change: (plan) => (plan.cgroup = { paths: [cgroup] }),
        },
      );
      expect(stdout).toBe(`${64 * 1024 * 1024}\n`);
      expect(stderr).toMatch(/Read-only file system/);
    });
  });

  describe('seccomp', () => {
    it('loads the filter after the setup: the shim made the working directory, the program cannot mkdir', async () => {
      const { stdout, stderr } = await sh(
        'pwd; grep ^Seccomp: /proc/self/status; mkdir /tmp/x; touch /tmp/y && echo touched',
        {
          change: (plan) => {
            plan.seccomp = noMkdirFilter();
            plan.cwd = '/srv/made-by-the-shim';
          },
        },
      );
      expect(stdout).toBe('/srv/made-by-the-shim\nSeccomp:\t2\ntouched\n');
      expect(stderr).toMatch(/mkdir: can't create directory '\/tmp\/x': Permission denied/);
    });

    it('loads it without no_new_privs for a non-root user, who keeps no capability after execve', async () => {
      const { stdout } = await sh('grep -E "^(Seccomp|NoNewPrivs|CapEff|CapPrm|Uid):" /proc/self/status', {
        change: (plan) => {
          plan.seccomp = noMkdirFilter();
          plan.noNewPrivileges = false;
          plan.user = { uid: 1000, gid: 1000 };
        },
      });
      expect(statusField(stdout, 'Seccomp')).toBe('2');
      expect(statusField(stdout, 'NoNewPrivs')).toBe('0');
      expect(statusField(stdout, 'Uid')).toBe('1000\t1000\t1000\t1000');
      expect(statusField(stdout, 'CapEff')).toBe('0000000000000000');
      expect(statusField(stdout, 'CapPrm')).toBe('0000000000000000');
    });

    it("keeps root's planned capabilities exactly when it held CAP_SYS_ADMIN to load the filter", async () => {
      const { stdout } = await sh('grep -E "^Cap(Eff|Prm|Bnd):" /proc/self/status', {
        change: (plan) => {
          plan.seccomp = noMkdirFilter();
          plan.noNewPrivileges = false;
        },
      });
      for (const field of ['CapEff', 'CapPrm', 'CapBnd']) expect(statusField(stdout, field)).toBe('00000000a80425fb');
    });

    it('reports a filter the kernel refuses as a start error', async () => {
      // A load past the end of struct seccomp_data: the kernel's checker says EINVAL.
      const bad: ShimSeccomp = {
        instructions: [
          { code: 0x20, jt: 0, jf: 0, k: 64 },
          { code: 0x06, jt: 0, jf: 0, k: 0 },
        ],
      };
      const error = await start({ args: ['true'], change: (plan) => (plan.seccomp = bad) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ShimStartError);
      expect((error as ShimStartError).message).toBe('load seccomp filter: EINVAL (Invalid argument)');
    });

    it('loads the filter it is given into an exec', async () => {
      const container = await sleeper();
      const { stdout, stderr } = await execToEnd(
        execPlan(container, ['sh', '-c', 'grep ^Seccomp: /proc/self/status; mkdir /tmp/x'], (plan) => {
          plan.seccomp = noMkdirFilter();
          plan.noNewPrivileges = false;
        }),
      );
      expect(stdout).toBe('Seccomp:\t2\n');
      expect(stderr).toMatch(/Permission denied/);
    });
  });

  describe('failures', () => {
    it('reports a missing executable as "exec: ENOENT" and records it', async () => {
      const dir = newContainerDir();
      const error = await start({ args: ['no-such-command'] }, dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ShimStartError);
      expect((error as ShimStartError).message).toBe('exec: ENOENT (No such file or directory): no-such-command');
      expect((error as ShimStartError).dockerExitCode).toBe(127);
      expect(JSON.parse(readFileSync(join(dir, 'state/exit.json'), 'utf8'))).toMatchObject({
        exitCode: null,
        startError: 'exec: ENOENT (No such file or directory): no-such-command',
      });
    });

    it('reports the step, errno and path of a failed mount', async () => {
      const missing = join(base, 'does-not-exist');
      const error = await sh('true', {
        change: (plan) => plan.mounts.push({ type: 'bind', source: missing, target: '/data' }),
      }).catch((e: unknown) => e);
      expect((error as Error).message).toBe(`open bind source: ENOENT (No such file or directory): ${missing}`);
    });

    it('reports an id map the kernel refuses, and does not hang', async () => {
      const error = await sh('true', {
        change: (plan) => {
          plan.namespaces.push('user');
          plan.uidMappings = [
            { insideId: 0, outsideId: 100000, count: 10 },
            { insideId: 5, outsideId: 200000, count: 10 }, // overlaps the first range
          ];
          plan.gidMappings = [{ insideId: 0, outsideId: 100000, count: 65536 }];
        },
      }).catch((e: unknown) => e);
      expect((error as Error).message).toBe('write uid_map: EINVAL (Invalid argument)');
    });

    it('reports a cgroup it cannot join, v1 or v2', async () => {
      for (const root of [MEMORY_CGROUP_ROOT, UNIFIED_CGROUP_ROOT]) {
        const error = await sh('true', {
          change: (plan) => (plan.cgroup = { paths: [makeMemoryCgroup(), `${root}/no-such-group`] }),
        }).catch((e: unknown) => e);
        expect((error as Error).message).toBe(`join cgroup: ENOENT (No such file or directory): ${root}/no-such-group`);
      }
    });

    // pid 1 joins a v1 cgroup by writing "0" to its "tasks" and is cloned into the v2 one
    // (CLONE_INTO_CGROUP): the two ways of joining that do not wait for the kernel's global lock.
    it('puts pid 1 and an exec into v1 and v2 cgroups at once', async () => {
      const memory = makeMemoryCgroup();
      const unified = makeMemoryCgroup(UNIFIED_CGROUP_ROOT);
      const memoryName = memory.slice(MEMORY_CGROUP_ROOT.length);
      const unifiedName = unified.slice(UNIFIED_CGROUP_ROOT.length);
      const container = await sleeper((plan) => (plan.cgroup = { paths: [memory, unified] }));
      for (const dir of [memory, unified]) {
        expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8')).toBe(`${container.started.pid}\n`);
      }
      const own = readFileSync(`/proc/${container.started.pid}/cgroup`, 'utf8');
      expect(own).toContain(`:memory:${memoryName}\n`);
      expect(own).toContain(`0::${unifiedName}\n`);
      const started = await exec(
        execPlan(container, ['sleep', '0.3'], (p) => (p.cgroup = { paths: [memory, unified] })),
      );
      for (const dir of [memory, unified]) {
        expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8')).toContain(`${started.pid}\n`);
      }
      (started.attachment as ShimAttachment).start();
      await (started.attachment as ShimAttachment).closed;
    });
  });

  describe('exec plans', () => {
    it('refuses an exec plan that would build a filesystem, before touching anything', () => {
      const dir = newContainerDir();
      const planPath = join(dir, 'state/exec.plan');
      writeFileSync(
        planPath,
        [
          'skiff-shim-plan 1',
          `state-dir ${dir}/state`,
          'exec-in 1 1',
          `rootfs-bind ${dir}/rootfs /`,
          'arg true',
          'end',
          '',
        ].join('\n'),
      );
      const result = spawnSync(shimPath, ['exec', '--plan', planPath, '--report-fd', '3'], {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      });
      expect(result.status).toBe(2);
      expect(result.output[3]?.toString()).toMatch(
        /^error parse%20plan:%20line%206:%20an%20exec%20plan%20cannot%20create%20namespaces,%20filesystems%20or%20a%20hostname 22 EINVAL /,
      );
    });
  });

  describe('mount propagation', () => {
    it('mounts nothing on the host even where the host shares its mounts, as systemd does with /', async () => {
      const shared = join(base, 'shared');
      mkdirSync(shared);
      execFileSync('mount', ['--bind', shared, shared]);
      try {
        execFileSync('mount', ['--make-rshared', shared]);
        const dir = join(shared, 'container');
        for (const sub of ['state', 'upper', 'work', 'rootfs']) mkdirSync(join(dir, sub), { recursive: true });
        const container = await start({ args: ['sh', '-c', 'echo ready; sleep 30'] }, dir);
        await waitForLog(container.plan, 'ready');
        // While the container runs, the host still sees just the shared bind itself.
        expect(mountsUnder(shared).map((line) => line.split(' ')[4])).toEqual([shared]);
        process.kill(container.started.pid, 'SIGKILL');
        await finish(container);
      } finally {
        execFileSync('umount', ['-l', shared]);
      }
    });
  });

  describe('attach', () => {
    it('lets a client attached before the start receive all of `echo hi`, and its exit code', async () => {
      const container = await start({ args: ['sh', '-c', 'echo hi; echo oops >&2; exit 4'], change: attached() });
      await new Promise((r) => setTimeout(r, 100));
      expect(readLog(container.plan)).toEqual([]); // held before execve: nothing has run yet
      const attachment = await attachToShim(container.plan.stateDir);
      expect(attachment.hello).toMatchObject({ pid: container.started.pid, tty: false, stdin: false, running: false });
      const got = received(attachment);
      const exits: ShimExitStatus[] = [];
      attachment.on('exit', (status) => exits.push(status));
      attachment.start();
      const status = await attachment.closed;
      expect(got).toEqual({ stdout: 'hi\n', stderr: 'oops\n', systemerr: '' });
      expect(status).toMatchObject({ exitCode: 4, signal: 0 });
      expect(exits).toHaveLength(1);
      const { status: recorded, stdout, stderr } = await finish(container);
      expect(recorded).toEqual(status);
      expect([stdout, stderr]).toEqual(['hi\n', 'oops\n']); // the json-file log has it too
    });

    it('makes the socket 0600 for root only, and removes it after the exit', async () => {
      const container = await start({ args: ['true'], change: attached() });
      const path = attachSocketPath(container.plan.stateDir);
      const mode = statSync(path);
      expect(mode.isSocket()).toBe(true);
      expect(mode.mode & 0o777).toBe(0o600);
      const attachment = await attachToShim(container.plan.stateDir);
      attachment.start();
      await attachment.closed;
      await finish(container);
      expect(existsSync(path)).toBe(false);
    });

    it('does not hold a container whose plan does not ask for it', async () => {
      const { status, stdout } = await sh('echo free', { change: (plan) => (plan.attach = {}) });
      expect(status.exitCode).toBe(0);
      expect(stdout).toBe('free\n');
    });

    it('passes stdin through to `cat`, and close-stdin gives it EOF', async () => {
      const container = await start({ args: ['sh', '-c', 'cat; echo "cat ended"'], change: attached(withStdin) });
      const attachment = await attachToShim(container.plan.stateDir, { stdin: true });
      expect(attachment.hello.stdin).toBe(true);
      const got = received(attachment);
      attachment.start();
      attachment.write('hello\n');
      attachment.write(Buffer.from('world\n'));
      await until(() => got.stdout === 'hello\nworld\n', 'cat to echo its input');
      attachment.closeStdin();
      const status = await attachment.closed;
      expect(got.stdout).toBe('hello\nworld\ncat ended\n');
      expect(status?.exitCode).toBe(0);
    });

    it('carries input larger than one frame and the pipe, in order', async () => {
      const container = await start({ args: ['md5sum'], change: attached(withStdin) });
      const attachment = await attachToShim(container.plan.stateDir, { stdin: true });
      const got = received(attachment);
      attachment.start();
      const big = Buffer.from(Array.from({ length: 100_000 }, (_, i) => `line ${i}\n`).join(''));
      expect(big.length).toBeGreaterThan(4 * 65536);
      attachment.write(big);
      attachment.closeStdin();
      await attachment.closed;
      expect(got.stdout).toBe(`${createHash('md5').update(big).digest('hex')}  -\n`);
    });

    it("closes stdin when the stdin client goes, with Docker's StdinOnce", async () => {
      const container = await start({
        args: ['sh', '-c', 'cat; echo "stdin closed"'],
        change: attached((plan) => {
          withStdin(plan);
          plan.attach = { holdUntilStart: true, stdinOnce: true };
        }),
      });
      const watcher = await attachToShim(container.plan.stateDir);
      const watched = received(watcher);
      const typist = await attachToShim(container.plan.stateDir, { stdin: true });
      typist.start();
      typist.write('typed\n');
      await until(() => watched.stdout === 'typed\n', 'the typed line');
      typist.detach();
      expect(await typist.closed).toBeUndefined();
      const status = await watcher.closed;
      expect(watched.stdout).toBe('typed\nstdin closed\n');
      expect(status?.exitCode).toBe(0);
    });

    it('sends the output to every client', async () => {
      const container = await start({
        args: ['sh', '-c', 'echo one; sleep 0.1; echo two >&2; echo three'],
        change: attached(),
      });
      const first = await attachToShim(container.plan.stateDir);
      const second = await attachToShim(container.plan.stateDir);
      const [a, b] = [received(first), received(second)];
      second.start();
      const [statusA, statusB] = await Promise.all([first.closed, second.closed]);
      expect(a).toEqual({ stdout: 'one\nthree\n', stderr: 'two\n', systemerr: '' });
      expect(b).toEqual(a);
      expect(statusA?.exitCode).toBe(0);
      expect(statusB).toEqual(statusA);
    });

    it('keeps a container and its stdin across a client that goes and another that comes (an agent restart)', async () => {
      const container = await start({
        args: ['sh', '-c', 'while read line; do echo "got $line"; done; echo bye'],
        change: attached(withStdin),
      });
      const before = await attachToShim(container.plan.stateDir, { stdin: true });
      const early = received(before);
      before.start();
      before.write('a\n');
      await until(() => early.stdout === 'got a\n', 'the first answer');
      before.detach();
      await before.closed;

      const after = await attachToShim(container.plan.stateDir, { stdin: true });
      expect(after.hello).toMatchObject({ running: true, stdin: true });
      const late = received(after);
      after.start(); // a restarted agent may always send it: the container already runs
      after.write('b\n');
      await until(() => late.stdout === 'got b\n', 'the answer after the reconnect');
      after.closeStdin();
      const status = await after.closed;
      expect(late.stdout).toBe('got b\nbye\n');
      expect(early.stdout).toBe('got a\n');
      expect(status?.exitCode).toBe(0);
      expect((await finish(container)).stdout).toBe('got a\ngot b\nbye\n');
    });

    it('holds the output back for a client that is behind, and loses none of it', async () => {
      const size = 4_000_000;
      const container = await start({
        args: ['sh', '-c', `head -c ${size} /dev/zero | tr "\\0" x; echo; echo done`],
        change: attached(),
      });
      const attachment = await attachToShim(container.plan.stateDir);
      let bytes = 0;
      let tail = '';
      attachment.on('output', (_stream, data) => {
        bytes += data.length;
        tail = (tail + data.toString()).slice(-6);
      });
      attachment.pause();
      attachment.start();
      await new Promise((r) => setTimeout(r, 500));
      const logged = () => readLog(container.plan).reduce((n, e) => n + e.log.length, 0);
      expect(logged()).toBeLessThan(size / 2); // the container waits for the client, as with dockerd
      attachment.resume();
      expect((await attachment.closed)?.exitCode).toBe(0);
      expect(bytes).toBe(size + 6);
      expect(tail).toBe('\ndone\n');
      expect(logged()).toBe(size + 6);
    });

    it('gives a client that comes after the exit the exit status from exit.json', async () => {
      const container = await start({ args: ['sh', '-c', 'exit 9'], change: (plan) => (plan.attach = {}) });
      await finish(container);
      const attachment = await attachToShim(container.plan.stateDir);
      const exits: ShimExitStatus[] = [];
      attachment.on('exit', (status) => exits.push(status));
      expect((await attachment.closed)?.exitCode).toBe(9);
      expect(exits.map((s) => s.exitCode)).toEqual([9]);
    });

    it('does not mistake the exit of an earlier run in the same state dir for this run', async () => {
      const first = await start({ args: ['sh', '-c', 'exit 3'], change: (plan) => (plan.attach = {}) });
      expect((await finish(first)).status.exitCode).toBe(3);
      const again = await start({ args: ['sh', '-c', 'echo again; exit 4'], change: attached() }, first.dir);
      expect(existsSync(join(again.plan.stateDir, 'exit.json'))).toBe(false);
      const attachment = await attachToShim(again.plan.stateDir);
      expect(attachment.hello.running).toBe(false);
      const got = received(attachment);
      attachment.start();
      expect((await attachment.closed)?.exitCode).toBe(4);
      expect(got.stdout).toBe('again\n');
    });

    it('refuses to attach where no process ever ran', async () => {
      const dir = newContainerDir();
      await expect(attachToShim(join(dir, 'state'))).rejects.toMatchObject({ kind: 'conflict' });
    });

    it('serves a state directory whose path is longer than a unix socket address', async () => {
      const dir = join(base, `${'long-state-directory-name-'.repeat(5)}${++counter}`);
      for (const sub of ['state', 'upper', 'work', 'rootfs']) mkdirSync(join(dir, sub), { recursive: true });
      expect(Buffer.byteLength(attachSocketPath(join(dir, 'state')))).toBeGreaterThan(108);
      const container = await start({ args: ['echo', 'far away'], change: attached() }, dir);
      const attachment = await attachToShim(container.plan.stateDir);
      const got = received(attachment);
      attachment.start();
      await attachment.closed;
      expect(got.stdout).toBe('far away\n');
    });

    it('ends a held container whose execve fails after the start with 126, and says why', async () => {
      const layer = join(base, `bogus-layer-${++counter}`);
      mkdirSync(join(layer, 'bin'), { recursive: true });
      writeFileSync(join(layer, 'bin/bogus'), 'neither ELF nor #!\n', { mode: 0o755 });
      const container = await start({ args: ['bogus'], lowerDirs: [layer, lower], change: attached() });
      const attachment = await attachToShim(container.plan.stateDir);
      const got = received(attachment);
      attachment.start();
      const status = await attachment.closed;
      expect(got.systemerr).toBe('exec: ENOEXEC (Exec format error): /bin/bogus');
      expect(status).toMatchObject({ exitCode: 126, startError: 'exec: ENOEXEC (Exec format error): /bin/bogus' });
    });

    it('still reports a missing program as a start error, before any client attached', async () => {
      const error = await start({ args: ['no-such-command'], change: attached() }).catch((e: unknown) => e);
      expect((error as Error).message).toBe('exec: ENOENT (No such file or directory): no-such-command');
    });

    it('lets a container that is still held be killed', async () => {
      const container = await start({ args: ['true'], change: attached() });
      // Like any pid 1 without a handler, it ignores SIGTERM: docker stop goes on to SIGKILL.
      container.started.forwardSignal('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(join(container.plan.stateDir, 'exit.json'))).toBe(false);
      process.kill(container.started.pid, 'SIGKILL');
      const { status } = await finish(container);
      expect(status).toMatchObject({ exitCode: 137, signal: 9 });
    });
  });

  describe('TTY', () => {
    it('gives pid 1 a terminal of the container as its controlling tty, with the initial size, and resizes it', async () => {
      const container = await start({
        args: ['sh', '-c', 'tty; stty size; echo ctty > /dev/tty; echo err >&2; read x; stty size'],
        change: attached(withTerminal(30, 100)),
      });
      const attachment = await attachToShim(container.plan.stateDir, { stdin: true });
      expect(attachment.hello).toMatchObject({ tty: true, stdin: true });
      const got = received(attachment);
      attachment.start();
      await until(() => got.stdout.includes('err'), 'the first lines');
      attachment.resize(40, 120);
      attachment.write('\r');
      const status = await attachment.closed;
      expect(status?.exitCode).toBe(0);
      const lines = got.stdout.split('\r\n');
      expect(lines[0]).toMatch(/^\/dev\/pts\/\d+$/);
      expect(lines.slice(1, 4)).toEqual(['30 100', 'ctty', 'err']);
      expect(lines.at(-2)).toBe('40 120');
      expect(got.stderr).toBe('');
      // All of a terminal's output is "stdout", in the log too.
      const { entries } = await finish(container);
      expect(new Set(entries.map((e) => e.stream))).toEqual(new Set(['stdout']));
      expect(entries.map((e) => e.log).join('')).toContain('err\r\n');
    });

    it('resizes through a connection of its own, as the resize endpoint does', async () => {
      const container = await start({
        args: ['sh', '-c', 'trap "stty size" WINCH; echo ready; while :; do sleep 0.05; done'],
        change: (plan) => {
          withTerminal(24, 80)(plan);
          plan.attach = {}; // no hold: nobody attaches
        },
      });
      await waitForLog(container.plan, 'ready');
      await resizeShim(container.plan.stateDir, 50, 132);
      await waitForLog(container.plan, '50 132');
    });

    it('keeps the terminal usable for a non-root user', async () => {
      const container = await start({
        args: ['sh', '-c', 'id -u; stat -c "%u %g %a" $(tty); echo mine > $(tty)'],
        change: attached((plan) => {
          withTerminal(24, 80)(plan);
          plan.user = { uid: 1000, gid: 1000 };
        }),
      });
      const attachment = await attachToShim(container.plan.stateDir);
      const got = received(attachment);
      attachment.start();
      expect((await attachment.closed)?.exitCode).toBe(0);
      expect(got.stdout.split('\r\n').slice(0, 3)).toEqual(['1000', '1000 5 620', 'mine']);
    });
  });

  describe('exec', () => {
    it("runs in the container's namespaces: its processes, its hostname, its root", async () => {
      const container = await sleeper();
      const { stdout, status } = await execToEnd(
        execPlan(container, ['sh', '-c', 'hostname; ps -o pid,comm; ls /proc/1/root/bin/busybox']),
      );
      expect(status.exitCode).toBe(0);
      const [host, , ...rest] = stdout.trim().split('\n');
      expect(host).toBe('skiff-test');
      const processes = rest.slice(0, -1).map((line) => line.trim().split(/\s+/));
      expect(processes).toContainEqual(['1', 'sleep']);
      expect(processes.map(([, comm]) => comm)).toEqual(expect.arrayContaining(['sh', 'ps']));
      expect(processes.every(([pid]) => Number(pid) < 100)).toBe(true); // the container's pid namespace
      expect(rest.at(-1)).toBe('/proc/1/root/bin/busybox');
    });

    it('applies the user, environment and working directory of the exec', async () => {
      const container = await sleeper();
      const { stdout } = await execToEnd(
        execPlan(container, ['sh', '-c', 'id -u; id -g; id -G; echo "$FOO"; pwd'], (plan) => {
          plan.user = { uid: 1000, gid: 1000, additionalGids: [10] };
          plan.env.push('FOO=from exec');
          plan.cwd = '/tmp';
        }),
      );
      expect(stdout).toBe('1000\n1000\n1000 10\nfrom exec\n/tmp\n');
    });

    it('gives the exit code of the process, in exit.json of the exec too', async () => {
      const container = await sleeper();
      const plan = execPlan(container, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
      const { stdout, stderr, status } = await execToEnd(plan);
      expect([stdout, stderr]).toEqual(['out\n', 'err\n']);
      expect(status).toMatchObject({ exitCode: 3, signal: 0 });
      expect(JSON.parse(readFileSync(join(plan.stateDir, 'exit.json'), 'utf8'))).toMatchObject({ exitCode: 3 });
      expect(readLog(container.plan).map((e) => e.log)).toEqual(['ready\n']); // exec output is not logged
    });

    it('passes stdin to the exec and ends it with close-stdin', async () => {
      const container = await sleeper();
      const started = await exec(
        execPlan(container, ['sh', '-c', 'tr a-z A-Z'], (plan) => {
          plan.stdio.stdin = { kind: 'attach' };
          plan.attach = { holdUntilStart: true, stdinOnce: true };
        }),
      );
      const attachment = started.attachment as ShimAttachment;
      const got = received(attachment);
      attachment.start();
      attachment.write('shout\n');
      attachment.closeStdin();
      expect((await attachment.closed)?.exitCode).toBe(0);
      expect(got.stdout).toBe('SHOUT\n');
    });

    it('gives an exec with a TTY a terminal of the container, sized and resizable', async () => {
      const container = await sleeper();
      const plan = execPlan(container, ['sh', '-c', 'tty; stty size; read x; stty size'], (plan) => {
        plan.terminal = { rows: 24, cols: 80 };
        plan.stdio.stdin = { kind: 'attach' };
      });
      const started = await exec(plan);
      const attachment = started.attachment as ShimAttachment;
      expect(attachment.hello.tty).toBe(true);
      const got = received(attachment);
      attachment.start();
      await until(() => got.stdout.includes('24 80'), 'the initial size');
      await resizeShim(plan.stateDir, 33, 99);
      attachment.write('\r');
      expect((await attachment.closed)?.exitCode).toBe(0);
      const lines = got.stdout.split('\r\n');
      expect(lines[0]).toMatch(/^\/dev\/pts\/\d+$/);
      expect(lines[1]).toBe('24 80');
      expect(lines.at(-2)).toBe('33 99');
    });

    it("puts the exec into the container's cgroup", async () => {
      const cgroup = makeMemoryCgroup();
      const container = await sleeper((plan) => (plan.cgroup = { paths: [cgroup] }));
      const plan = execPlan(
        container,
        ['sh', '-c', 'grep memory /proc/self/cgroup; echo $$ > /tmp/pid; sleep 0.3'],
        (p) => {
          p.cgroup = { paths: [cgroup] };
        },
      );
      const started = await exec(plan);
      const attachment = started.attachment as ShimAttachment;
      const got = received(attachment);
      attachment.start();
      await until(() => got.stdout !== '', 'the cgroup line');
      expect(readFileSync(join(cgroup, 'cgroup.procs'), 'utf8')).toContain(`${started.pid}\n`);
      await attachment.closed;
      expect(got.stdout).toMatch(/^\d+:memory:\/\n$/);
    });

    it("enters the container's user namespace, and its cgroups from there", async () => {
      const dir = newContainerDir();
      for (const sub of ['upper', 'work']) chownSync(join(dir, sub), 100000, 100000);
      // Mapped root may not write to the v2 cgroup, so its clone into it fails and the shim joins
      // it from outside; the v1 "tasks" descriptors were opened by host root and work from inside.
      const cgroups = [makeMemoryCgroup(), makeMemoryCgroup(UNIFIED_CGROUP_ROOT)];
      const container = await start(
        {
          args: ['sh', '-c', 'echo ready; exec sleep 60'],
          change: (plan) => {
            plan.namespaces.push('user');
            plan.uidMappings = [{ insideId: 0, outsideId: 100000, count: 65536 }];
            plan.gidMappings = [{ insideId: 0, outsideId: 100000, count: 65536 }];
            plan.cgroup = { paths: cgroups };
          },
        },
        dir,
      );
      await waitForLog(container.plan, 'ready');
      const { stdout } = await execToEnd(
        execPlan(
          container,
          ['sh', '-c', 'cat /proc/self/uid_map; id -u; touch /made-by-exec; echo $$ > /exec-pid'],
          (p) => {
            p.cgroup = { paths: cgroups };
          },
        ),
      );
      expect(stdout.split('\n')[0]?.trim().split(/\s+/)).toEqual(['0', '100000', '65536']);
      expect(stdout.split('\n')[1]).toBe('0');
      expect(statSync(join(container.upper, 'made-by-exec')).uid).toBe(100000);
      for (const cgroup of cgroups) {
        expect(readFileSync(join(cgroup, 'cgroup.procs'), 'utf8')).toBe(`${container.started.pid}\n`);
      }
    });

    it('fails clearly for a container that is not running', async () => {
      const container = await start({ args: ['true'] });
      await finish(container);
      const error = await startExec({ shimPath, plan: execPlan(container, ['true']) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ShimStartError);
      expect((error as ShimStartError).kind).toBe('conflict');
      expect((error as ShimStartError).message).toBe(
        `container is not running: ESRCH (No such process): pid ${container.started.pid}`,
      );
    });

    it("refuses a pid that is not the container shim's child", async () => {
      const container = await sleeper();
      const plan = execPlan(
        container,
        ['true'],
        (p) => (p.container = { pid: process.pid, shimPid: container.started.shimPid }),
      );
      await expect(startExec({ shimPath, plan })).rejects.toThrow(/^container is not running: ESRCH/);
    });

    it('ends with the container, and its shim does not hang', async () => {
      const container = await sleeper();
      const started = await exec(execPlan(container, ['sh', '-c', 'sleep 60 & sleep 60']));
      const attachment = started.attachment as ShimAttachment;
      attachment.start();
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      process.kill(container.started.pid, 'SIGKILL');
      const status = await started.exited;
      expect(status).toMatchObject({ exitCode: 137, signal: 9 });
      expect(performance.now() - t0).toBeLessThan(1500);
      expect((await attachment.closed)?.exitCode).toBe(137);
    });
  });

  describe('--init', () => {
    const withInit = (args: string[]) => (plan: ShimPlan) => {
      const init = dockerInit(initPath, args);
      plan.mounts.push(init.mount);
      plan.args = init.args;
    };

    it('runs the init as pid 1 and the command as its child, with its exit code', async () => {
      const { stdout, status } = await run({
        args: [],
        change: withInit(['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; echo; echo "sh is $$"; exit 5']),
      });
      expect(stdout.split('\n').slice(0, 2)).toEqual([
        '/sbin/docker-init -- sh -c tr "\\0" " " < /proc/1/cmdline; echo; echo "sh is $$"; exit 5 ',
        'sh is 2',
      ]);
      expect(status.exitCode).toBe(5);
    });

    it('reaps orphaned zombies, which a plain pid 1 leaves behind', async () => {
      const script = ['sh', '-c', '(sleep 0.1 &); exec sleep 60'];
      const zombies = async (container: Container) => {
        await new Promise((r) => setTimeout(r, 500));
        const { stdout } = await execToEnd(
          execPlan(container, ['sh', '-c', 'for f in /proc/[0-9]*/stat; do cut -d" " -f2,3 $f; done']),
        );
        return stdout.split('\n').filter((line) => line.endsWith(' Z'));
      };
      const plain = await start({ args: script });
      expect(await zombies(plain)).toEqual(['(sleep) Z']); // the test can fail
      const withTini = await start({ args: [], change: withInit(script) });
      expect(await zombies(withTini)).toEqual([]);
    });

    it("forwards docker stop's SIGTERM, so that sleep ends at once", async () => {
      const plain = await start({ args: ['sleep', '30'] });
      const withTini = await start({ args: [], change: withInit(['sleep', '30']) });
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      process.kill(plain.started.pid, 'SIGTERM'); // sleep as pid 1 has no handler: ignored
      process.kill(withTini.started.pid, 'SIGTERM');
      const { status } = await finish(withTini);
      expect(status).toMatchObject({ exitCode: 143, signal: 0 });
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(existsSync(join(plain.dir, 'state/exit.json'))).toBe(false);
    });

    it('hands the terminal to the command, whose process group gets ^C', async () => {
      const container = await start({
        args: [],
        change: attached((plan) => {
          withTerminal(24, 80)(plan);
          withInit(['sh', '-c', 'trap "echo interrupted; exit 7" INT; echo ready; while :; do sleep 0.05; done'])(plan);
        }),
      });
      const attachment = await attachToShim(container.plan.stateDir, { stdin: true });
      const got = received(attachment);
      attachment.start();
      await until(() => got.stdout.includes('ready'), 'ready');
      attachment.write('\x03');
      const status = await attachment.closed;
      expect(got.stdout).toContain('interrupted');
      expect(status?.exitCode).toBe(7);
    });
  });

  describe('20 containers back to back', () => {
    it('leaves no mount, cgroup or process behind, and starts each in a few milliseconds', async () => {
      const mountsBefore = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length;
      const cgroupsBefore = readdirSync(MEMORY_CGROUP_ROOT).sort();
      const startMs: number[] = [];
      const runMs: number[] = [];
      const shimPids: number[] = [];
      for (let i = 0; i < 20; i++) {
        const cgroup = makeMemoryCgroup();
        const t0 = performance.now();
        const container = await start({ args: ['true'], change: (plan) => (plan.cgroup = { paths: [cgroup] }) });
        startMs.push(performance.now() - t0);
        const { status } = await finish(container);
        runMs.push(performance.now() - t0);
        expect(status.exitCode).toBe(0);
        shimPids.push(container.started.shimPid);
        await removeCgroup(cgroup);
      }
      expect(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length).toBe(mountsBefore);
      expect(mountsUnder(base)).toEqual([]);
      expect(readdirSync(MEMORY_CGROUP_ROOT).sort()).toEqual(cgroupsBefore);
      for (const pid of shimPids) expect(existsSync(`/proc/${pid}`)).toBe(false);
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
      console.log(
        `skiff-shim: start (spawn to exec) median ${median(startMs).toFixed(1)} ms, max ${Math.max(...startMs).toFixed(1)} ms; ` +
          `start to exit status of \`true\` median ${median(runMs).toFixed(1)} ms`,
      );
      expect(median(startMs)).toBeLessThan(100);
    });
  });
});
