/**
 * The plan in skiff-shim's wire format (host-agent/shim/PLAN-FORMAT.md): one record per line,
 * `key field field…`, fields separated by one space, every byte outside `!`…`~` and `%` itself
 * written as `%XX`, and the empty string as a lone `%`. The plan is checked completely before
 * a byte is written, so a bad plan never reaches the shim.
 */
import { posix } from 'node:path';

import { capabilityMask } from './capabilities.js';
import {
  RLIMIT_NAMES,
  SHIM_STATE_FILES,
  type IdMapping,
  type MountFlag,
  type NamespaceKind,
  type Propagation,
  type RlimitValue,
  type ShimExecPlan,
  type ShimPlan,
  type ShimProcessPlan,
  type ShimSeccomp,
  type ShimStdin,
  type ShimStdio,
} from './shim-plan.js';

export const SHIM_PLAN_VERSION = 1;

export class ShimPlanError extends Error {
  override name = 'ShimPlanError';
  readonly kind = 'invalid-argument' as const;
}

const MS = {
  rdonly: 0x1,
  nosuid: 0x2,
  nodev: 0x4,
  noexec: 0x8,
  synchronous: 0x10,
  dirsync: 0x80,
  noatime: 0x400,
  nodiratime: 0x800,
  bind: 0x1000,
  rec: 0x4000,
  unbindable: 0x20000,
  private: 0x40000,
  slave: 0x80000,
  shared: 0x100000,
  relatime: 0x200000,
  strictatime: 0x1000000,
  lazytime: 0x2000000,
} as const;

const MOUNT_FLAGS: Record<MountFlag, number> = {
  rdonly: MS.rdonly,
  nosuid: MS.nosuid,
  nodev: MS.nodev,
  noexec: MS.noexec,
  synchronous: MS.synchronous,
  dirsync: MS.dirsync,
  noatime: MS.noatime,
  nodiratime: MS.nodiratime,
  rec: MS.rec,
  relatime: MS.relatime,
  strictatime: MS.strictatime,
  lazytime: MS.lazytime,
};

const PROPAGATION: Record<Propagation, number> = {
  private: MS.private,
  rprivate: MS.private | MS.rec,
  slave: MS.slave,
  rslave: MS.slave | MS.rec,
  shared: MS.shared,
  rshared: MS.shared | MS.rec,
  unbindable: MS.unbindable,
  runbindable: MS.unbindable | MS.rec,
};

const NAMESPACES: readonly NamespaceKind[] = ['pid', 'mount', 'uts', 'ipc', 'net', 'cgroup', 'user'];

/** `%XX` for every byte outside `!`…`~` and for `%`; `%` alone for the empty string. */
export function escapeField(value: string): string {
  if (value === '') return '%';
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out +=
      byte <= 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}

/** The inverse of escapeField. */
export function unescapeField(field: string): string {
  if (field === '%') return '';
  const bytes: number[] = [];
  for (let i = 0; i < field.length; i++) {
    if (field[i] === '%') {
      const hex = field.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new ShimPlanError(`bad %-escape in field ${JSON.stringify(field)}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(field.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Splits the wire format into records of unescaped fields (comments and blank lines dropped). */
export function parseShimRecords(text: Buffer | string): string[][] {
  return text
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(' ').map(unescapeField));
}

function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

function octal(value: number): string {
  return value === 0 ? '0' : `0${value.toString(8)}`;
}

class Checker {
  text(field: string, value: unknown, { allowEmpty = false } = {}): string {
    if (typeof value !== 'string') throw new ShimPlanError(`invalid plan: ${field} must be a string`);
    if (!allowEmpty && value === '') throw new ShimPlanError(`invalid plan: ${field} is empty`);
    if (value.includes('\0')) throw new ShimPlanError(`invalid plan: ${field} contains a NUL byte`);
    return value;
  }

  absolute(field: string, value: unknown): string {
    const path = this.text(field, value);
    if (!path.startsWith('/')) throw new ShimPlanError(`invalid plan: ${field} must be an absolute path: ${path}`);
    return path;
  }

  integer(field: string, value: unknown, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ShimPlanError(`invalid plan: ${field} must be an integer from ${min} to ${max}: ${String(value)}`);
    }
    return value;
  }

  /** Overlay options are comma- and colon-separated; the agent's layer paths never need them. */
  overlayPath(field: string, value: unknown): string {
    const path = this.absolute(field, value);
    if (/[,:\\]/.test(path)) {
      throw new ShimPlanError(`invalid plan: ${field} may not contain ',', ':' or '\\': ${path}`);
    }
    return path;
  }
}

function rlimitValue(field: string, value: RlimitValue): bigint | 'unlimited' {
  if (value === 'unlimited') return value;
  const big = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value) : -1n;
  if (big < 0n || big >= 2n ** 64n - 1n) {
    throw new ShimPlanError(`invalid plan: ${field} must be 'unlimited' or an integer from 0: ${String(value)}`);
  }
  return big;
}

function stdioFields(field: string, stdio: ShimStdio | ShimStdin, check: Checker): string[] {
  switch (stdio.kind) {
    case 'null':
    case 'log':
    case 'attach':
      return [stdio.kind];
    case 'fd':
      return ['fd', String(check.integer(`${field}.fd`, stdio.fd, 0, 1 << 20))];
    default: {
      const unknown: never = stdio;
      throw new ShimPlanError(`invalid plan: ${field} has unknown kind ${JSON.stringify(unknown)}`);
    }
  }
}

function mappings(field: string, list: IdMapping[] | undefined, check: Checker): string[][] {
  return (list ?? []).map((m, i) => [
    String(check.integer(`${field}[${i}].insideId`, m.insideId, 0, 2 ** 32 - 2)),
    String(check.integer(`${field}[${i}].outsideId`, m.outsideId, 0, 2 ** 32 - 2)),
    String(check.integer(`${field}[${i}].count`, m.count, 1, 2 ** 32 - 1)),
  ]);
}

/** BPF_MAXINSNS of linux/bpf_common.h. */
const SECCOMP_MAX_INSTRUCTIONS = 4096;

/**
 * Each program already checked and written out, by the identity of its instruction list: nearly
 * every container gets one of the few default filters the seccomp planner keeps (about 540
 * instructions each), which need not be checked and formatted on every start again.
 */
const writtenPrograms = new WeakMap<ShimSeccomp['instructions'], string>();

/** `flags program`: each instruction as 16 hex digits, code (4) jt (2) jf (2) k (8). */
function seccompFields(seccomp: ShimSeccomp, check: Checker): string[] {
  const { instructions } = seccomp;
  const flags = hex(check.integer('seccomp.flags', seccomp.flags ?? 0, 0, 0xffffffff));
  const written = writtenPrograms.get(instructions);
  if (written !== undefined) return [flags, written];
  if (instructions.length === 0 || instructions.length > SECCOMP_MAX_INSTRUCTIONS) {
    throw new ShimPlanError(
      `invalid plan: seccomp.instructions must hold 1 to ${SECCOMP_MAX_INSTRUCTIONS} instructions: ${instructions.length}`,
    );
  }
  const program = instructions
    .map((insn, i) => {
      const field = `seccomp.instructions[${i}]`;
      return (
        check.integer(`${field}.code`, insn.code, 0, 0xffff).toString(16).padStart(4, '0') +
        check.integer(`${field}.jt`, insn.jt, 0, 0xff).toString(16).padStart(2, '0') +
        check.integer(`${field}.jf`, insn.jf, 0, 0xff).toString(16).padStart(2, '0') +
        check.integer(`${field}.k`, insn.k, 0, 0xffffffff).toString(16).padStart(8, '0')
      );
    })
    .join('');
  writtenPrograms.set(instructions, program);
  return [flags, program];
}

type Add = (key: string, ...fields: string[]) => void;

/** The records both kinds of plan start with. */
function beginRecords(plan: ShimProcessPlan, check: Checker): { records: string[][]; add: Add } {
  const records: string[][] = [['skiff-shim-plan', String(SHIM_PLAN_VERSION)]];
  const add: Add = (key, ...fields) => records.push([key, ...fields]);
  add('state-dir', check.absolute('stateDir', plan.stateDir));
  const logged = [plan.stdio.stdout, plan.stdio.stderr].some((s) => s.kind === 'log');
  if (plan.logPath !== undefined) add('log-path', check.absolute('logPath', plan.logPath));
  else if (logged && !plan.attach) {
    throw new ShimPlanError('invalid plan: stdio goes to the log but logPath is not set (and there is no attach)');
  }
  return { records, add };
}

function finishRecords(records: string[][]): Buffer {
  records.push(['end']);
  return Buffer.from(records.map((fields) => fields.map(escapeField).join(' ')).join('\n') + '\n', 'utf8');
}

/** The records of the process itself: cgroups, privileges, what it runs, its stdio and attach. */
function processRecords(plan: ShimProcessPlan, check: Checker, add: Add): void {
  for (const [i, dir] of (plan.cgroup?.paths ?? []).entries()) add('cgroup', check.absolute(`cgroup.paths[${i}]`, dir));
  if (plan.cgroup?.oomEventsFile !== undefined)
    add('oom-events', check.absolute('cgroup.oomEventsFile', plan.cgroup.oomEventsFile));

  const caps = plan.capabilities;
  const masks = [caps.bounding, caps.effective, caps.permitted, caps.inheritable, caps.ambient].map((set) => {
    try {
      return capabilityMask(set);
    } catch (error) {
      throw new ShimPlanError(`invalid plan: capabilities: ${(error as Error).message}`);
    }
  });
  const [, effective, permitted, inheritable, ambient] = masks as [bigint, bigint, bigint, bigint, bigint];
  if ((effective & ~permitted) !== 0n)
    throw new ShimPlanError('invalid plan: effective capabilities must be permitted');
  if ((ambient & ~(permitted & inheritable)) !== 0n) {
    throw new ShimPlanError('invalid plan: ambient capabilities must be permitted and inheritable');
  }
  add('capabilities', ...masks.map(hex));

  for (const [i, limit] of (plan.rlimits ?? []).entries()) {
    const resource = RLIMIT_NAMES.indexOf(limit.type);
    if (resource < 0)
      throw new ShimPlanError(`invalid plan: rlimits[${i}].type is unknown: ${JSON.stringify(limit.type)}`);
    const soft = rlimitValue(`rlimits[${i}].soft`, limit.soft);
    const hard = rlimitValue(`rlimits[${i}].hard`, limit.hard);
    if (hard !== 'unlimited' && (soft === 'unlimited' || soft > hard)) {
      throw new ShimPlanError(
        `invalid plan: rlimit ${limit.type}: soft limit ${String(soft)} is above hard limit ${hard}`,
      );
    }
    add('rlimit', String(resource), String(soft), String(hard));
  }

  add(
    'user',
    String(check.integer('user.uid', plan.user.uid, 0, 2 ** 32 - 2)),
    String(check.integer('user.gid', plan.user.gid, 0, 2 ** 32 - 2)),
  );
  add(
    'groups',
    ...(plan.user.additionalGids ?? []).map((gid, i) =>
      String(check.integer(`user.additionalGids[${i}]`, gid, 0, 2 ** 32 - 2)),
    ),
  );
  add('cwd', check.absolute('cwd', plan.cwd));
  for (const [i, entry] of plan.env.entries()) {
    const text = check.text(`env[${i}]`, entry);
    if (!text.includes('=') || text.startsWith('='))
      throw new ShimPlanError(`invalid plan: env[${i}] is not KEY=value: ${text}`);
    add('env', text);
  }
  if (plan.args.length === 0) throw new ShimPlanError('invalid plan: args is empty: nothing to run');
  for (const [i, arg] of plan.args.entries()) add('arg', check.text(`args[${i}]`, arg, { allowEmpty: i > 0 }));
  if (plan.noNewPrivileges) add('no-new-privileges');
  if (plan.seccomp !== undefined) add('seccomp', ...seccompFields(plan.seccomp, check));
  if (plan.umask !== undefined) add('umask', octal(check.integer('umask', plan.umask, 0, 0o777)));

  const { stdin, stdout, stderr } = plan.stdio;
  if ((stdin.kind as string) === 'log') throw new ShimPlanError("invalid plan: stdio.stdin cannot be 'log'");
  if ((stdout.kind as string) === 'attach' || (stderr.kind as string) === 'attach') {
    throw new ShimPlanError("invalid plan: only stdio.stdin can be 'attach'");
  }
  if (stdin.kind === 'attach' && !plan.attach) {
    throw new ShimPlanError("invalid plan: stdio.stdin is 'attach' but attach is not set");
  }
  add('stdin', ...stdioFields('stdio.stdin', stdin, check));
  add('stdout', ...stdioFields('stdio.stdout', stdout, check));
  add('stderr', ...stdioFields('stdio.stderr', stderr, check));

  if (plan.terminal !== undefined) {
    if (stdout.kind !== 'log' || stderr.kind !== 'log' || (stdin.kind !== 'null' && stdin.kind !== 'attach')) {
      throw new ShimPlanError(
        "invalid plan: with a terminal, stdio.stdout and stdio.stderr must be 'log' and stdio.stdin 'null' or 'attach'",
      );
    }
    add(
      'tty',
      String(check.integer('terminal.rows', plan.terminal.rows, 0, 0xffff)),
      String(check.integer('terminal.cols', plan.terminal.cols, 0, 0xffff)),
    );
  }
  if (plan.attach !== undefined) {
    add('attach-socket', posix.join(check.absolute('stateDir', plan.stateDir), SHIM_STATE_FILES.attachSocket));
    if (plan.attach.holdUntilStart) add('attach-hold');
    if (plan.attach.stdinOnce) {
      if (stdin.kind !== 'attach') throw new ShimPlanError("invalid plan: attach.stdinOnce needs stdio.stdin 'attach'");
      add('stdin-once');
    }
  }
}

/** The plan in the shim's wire format. Throws ShimPlanError (kind invalid-argument) naming the bad field. */
export function serialiseShimPlan(plan: ShimPlan): Buffer {
  const check = new Checker();
  const { records, add } = beginRecords(plan, check);
  const namespaces = new Set(plan.namespaces);
  for (const kind of namespaces) {
    if (!NAMESPACES.includes(kind)) throw new ShimPlanError(`invalid plan: unknown namespace ${JSON.stringify(kind)}`);
  }
  if (!namespaces.has('mount') || !namespaces.has('pid')) {
    throw new ShimPlanError('invalid plan: namespaces must include mount and pid');
  }
  for (const kind of NAMESPACES) if (namespaces.has(kind)) add('namespace', kind);
  for (const [i, join] of (plan.joinNamespaces ?? []).entries()) {
    if (!NAMESPACES.includes(join.kind)) {
      throw new ShimPlanError(`invalid plan: joinNamespaces[${i}].kind is unknown: ${JSON.stringify(join.kind)}`);
    }
    if (namespaces.has(join.kind)) {
      throw new ShimPlanError(`invalid plan: the ${join.kind} namespace is both created and joined`);
    }
    add('namespace-join', join.kind, check.absolute(`joinNamespaces[${i}].path`, join.path));
  }
  const uidMaps = mappings('uidMappings', plan.uidMappings, check);
  const gidMaps = mappings('gidMappings', plan.gidMappings, check);
  if (namespaces.has('user') && (uidMaps.length === 0 || gidMaps.length === 0)) {
    throw new ShimPlanError('invalid plan: a user namespace needs uidMappings and gidMappings');
  }
  if (!namespaces.has('user') && (uidMaps.length > 0 || gidMaps.length > 0)) {
    throw new ShimPlanError('invalid plan: id mappings without a user namespace');
  }
  for (const m of uidMaps) add('uid-map', ...m);
  for (const m of gidMaps) add('gid-map', ...m);

  const rootfs = plan.rootfs;
  if (rootfs.kind === 'overlay') {
    if (rootfs.lowerDirs.length === 0) throw new ShimPlanError('invalid plan: rootfs.lowerDirs is empty');
    add(
      'rootfs-overlay',
      check.absolute('rootfs.target', rootfs.target),
      check.overlayPath('rootfs.upperDir', rootfs.upperDir),
      check.overlayPath('rootfs.workDir', rootfs.workDir),
      ...rootfs.lowerDirs.map((dir, i) => check.overlayPath(`rootfs.lowerDirs[${i}]`, dir)),
    );
  } else if (rootfs.kind === 'bind') {
    add('rootfs-bind', check.absolute('rootfs.target', rootfs.target), check.absolute('rootfs.source', rootfs.source));
  } else {
    throw new ShimPlanError(
      `invalid plan: rootfs.kind is unknown: ${JSON.stringify((rootfs as { kind: unknown }).kind)}`,
    );
  }
  const rootPropagation = plan.rootPropagation ?? 'rprivate';
  if (!(rootPropagation in PROPAGATION)) {
    throw new ShimPlanError(`invalid plan: rootPropagation is unknown: ${JSON.stringify(rootPropagation)}`);
  }
  add('root-propagation', hex(PROPAGATION[rootPropagation]));
  if (plan.readonlyRootfs) add('rootfs-readonly');

  for (const [i, mount] of plan.mounts.entries()) {
    const field = `mounts[${i}]`;
    const type = check.text(`${field}.type`, mount.type);
    if (/\s/.test(type)) throw new ShimPlanError(`invalid plan: ${field}.type has white space: ${type}`);
    let flags = type === 'bind' ? MS.bind : 0;
    for (const flag of mount.flags ?? []) {
      const bits = MOUNT_FLAGS[flag];
      if (bits === undefined)
        throw new ShimPlanError(`invalid plan: ${field}.flags has unknown flag ${JSON.stringify(flag)}`);
      flags |= bits;
    }
    let propagation = 0;
    if (mount.propagation !== undefined) {
      propagation = PROPAGATION[mount.propagation];
      if (propagation === undefined) {
        throw new ShimPlanError(`invalid plan: ${field}.propagation is unknown: ${JSON.stringify(mount.propagation)}`);
      }
    }
    const source =
      type === 'bind'
        ? check.absolute(`${field}.source`, mount.source)
        : check.text(`${field}.source`, mount.source, { allowEmpty: true });
    const fields = [type, source, check.absolute(`${field}.target`, mount.target), hex(flags), hex(propagation)];
    if (mount.data !== undefined && mount.data !== '') fields.push(check.text(`${field}.data`, mount.data));
    add('mount', ...fields);
  }

  for (const [i, device] of (plan.devices ?? []).entries()) {
    const field = `devices[${i}]`;
    if (device.type !== 'c' && device.type !== 'b') {
      throw new ShimPlanError(`invalid plan: ${field}.type must be 'c' or 'b': ${String(device.type)}`);
    }
    const fields = [
      check.absolute(`${field}.path`, device.path),
      device.type,
      String(check.integer(`${field}.major`, device.major, 0, 0xfff)),
      String(check.integer(`${field}.minor`, device.minor, 0, 0xfffff)),
      octal(check.integer(`${field}.fileMode`, device.fileMode, 0, 0o7777)),
      String(check.integer(`${field}.uid`, device.uid, 0, 2 ** 32 - 2)),
      String(check.integer(`${field}.gid`, device.gid, 0, 2 ** 32 - 2)),
    ];
    if (device.hostPath !== undefined) fields.push(check.absolute(`${field}.hostPath`, device.hostPath));
    add('device', ...fields);
  }
  for (const [i, link] of (plan.symlinks ?? []).entries()) {
    add('symlink', check.absolute(`symlinks[${i}].path`, link.path), check.text(`symlinks[${i}].target`, link.target));
  }
  for (const [i, path] of (plan.maskedPaths ?? []).entries())
    add('masked-path', check.absolute(`maskedPaths[${i}]`, path));
  for (const [i, path] of (plan.readonlyPaths ?? []).entries())
    add('readonly-path', check.absolute(`readonlyPaths[${i}]`, path));

  if (plan.hostname !== undefined) {
    if (!namespaces.has('uts')) throw new ShimPlanError('invalid plan: a hostname needs the uts namespace');
    if (Buffer.byteLength(check.text('hostname', plan.hostname)) > 64) {
      throw new ShimPlanError(`invalid plan: hostname is longer than 64 bytes: ${plan.hostname}`);
    }
    add('hostname', plan.hostname);
  }
  if (plan.domainname !== undefined) {
    if (Buffer.byteLength(check.text('domainname', plan.domainname)) > 64) {
      throw new ShimPlanError(`invalid plan: domainname is longer than 64 bytes: ${plan.domainname}`);
    }
    add('domainname', plan.domainname);
  }
  if (plan.loopbackUp) {
    if (!namespaces.has('net')) throw new ShimPlanError('invalid plan: loopbackUp needs a new net namespace');
    add('loopback-up');
  }

  processRecords(plan, check, add);
  return finishRecords(records);
}

/** An exec plan in the shim's wire format (`skiff-shim exec`). Throws ShimPlanError like serialiseShimPlan. */
export function serialiseShimExecPlan(plan: ShimExecPlan): Buffer {
  const check = new Checker();
  const { records, add } = beginRecords(plan, check);
  add(
    'exec-in',
    String(check.integer('container.pid', plan.container.pid, 1, 2 ** 31 - 1)),
    String(check.integer('container.shimPid', plan.container.shimPid, 1, 2 ** 31 - 1)),
  );
  processRecords(plan, check, add);
  return finishRecords(records);
}
