/**
 * Docker's seccomp profile format (moby's profiles/seccomp: `defaultAction`, `archMap`,
 * `syscalls[]` with `includes`/`excludes`), read and checked completely, so that a bad profile is
 * refused at `docker create` with a message naming the field, not at start.
 */
import { invalidArgument } from '../engine-error.js';

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
] as const;
export type SeccompActionName = (typeof SECCOMP_ACTIONS)[number];

export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

/** The architectures runc accepts in `architectures` and `archMap`. */
export const SECCOMP_ARCHES = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_LOONGARCH64',
] as const;
export type SeccompArchName = (typeof SECCOMP_ARCHES)[number];

export const SECCOMP_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
] as const;
export type SeccompFlagName = (typeof SECCOMP_FLAGS)[number];

/** One argument condition; `value` is the mask and `valueTwo` the datum of SCMP_CMP_MASKED_EQ. */
export interface SeccompArg {
  index: number;
  value: bigint;
  valueTwo: bigint;
  op: SeccompOperator;
}

/** When a rule applies: Docker's `includes` (all must hold) and `excludes` (any excludes). */
export interface SeccompFilterCondition {
  /** Architectures by Go's name of the host (`amd64`, `arm64`, `x86`…). */
  arches: string[];
  /** Capabilities of the container (`CAP_SYS_ADMIN`). */
  caps: string[];
  /** `major.minor` of the running kernel. */
  minKernel?: { major: number; minor: number };
}

export interface SeccompSyscallRule {
  names: string[];
  action: SeccompActionName;
  errnoRet?: number;
  args: SeccompArg[];
  includes: SeccompFilterCondition;
  excludes: SeccompFilterCondition;
}

export interface SeccompProfile {
  defaultAction: SeccompActionName;
  defaultErrnoRet?: number;
  /** Old style: the filter's architectures as they are. */
  architectures: SeccompArchName[];
  /** New style: the host's architecture picks its entry, which adds its sub-architectures. */
  archMap: { architecture: SeccompArchName; subArchitectures: SeccompArchName[] }[];
  syscalls: SeccompSyscallRule[];
  flags: SeccompFlagName[];
}

/**
 * The docker CLI reads `--security-opt seccomp=<file>` itself and sends the file's JSON; JSON
 * numbers above 2^53 (64-bit masks) would lose bits in JSON.parse, so they are carried as tagged
 * strings into the parse and read back as bigints.
 */
const BIG_INTEGER_TAG = '\u0000skiff-bigint:';

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function parseJson(text: string): unknown {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      out += char;
      if (char === '\\') out += text[++i] ?? '';
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') {
      inString = true;
      out += char;
      continue;
    }
    NUMBER.lastIndex = i;
    const number = /[-\d]/.test(char) ? NUMBER.exec(text) : null;
    if (number) {
      const literal = number[0];
      out +=
        /^-?\d+$/.test(literal) && !Number.isSafeInteger(Number(literal))
          ? JSON.stringify(BIG_INTEGER_TAG + literal)
          : literal;
      i += literal.length - 1;
      continue;
    }
    out += char;
  }
  return JSON.parse(out);
}

class ProfileReader {
  fail(where: string, problem: string): never {
    throw invalidArgument(`invalid seccomp profile: ${where}${where ? ': ' : ''}${problem}`);
  }

  object(value: unknown, where: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(where, 'must be a JSON object');
    return value as Record<string, unknown>;
  }

  list(value: unknown, where: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(where, 'must be a list');
    return value;
  }

  strings(value: unknown, where: string): string[] {
    return this.list(value, where).map((item, i) => {
      if (typeof item !== 'string') this.fail(`${where}[${i}]`, 'must be a string');
      return item;
    });
  }

  oneOf<T extends string>(value: unknown, allowed: readonly T[], where: string, what: string): T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(where, `unknown ${what} ${JSON.stringify(value)} (one of ${allowed.join(', ')})`);
    }
    return value as T;
  }

  uint64(value: unknown, where: string): bigint {
    if (value === undefined || value === null) return 0n;
    if (typeof value === 'string' && value.startsWith(BIG_INTEGER_TAG)) {
      const big = BigInt(value.slice(BIG_INTEGER_TAG.length));
      if (big < 0n || big >= 1n << 64n) this.fail(where, `must be an integer from 0 to 2^64-1: ${big}`);
      return big;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      this.fail(where, `must be an integer from 0 to 2^64-1: ${JSON.stringify(value)}`);
    }
    return BigInt(value);
  }

  /** errnoRet: the 16-bit SECCOMP_RET_DATA of an ERRNO or TRACE action. */
  errno(value: unknown, where: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) {
      this.fail(where, `must be an errno number from 0 to 65535: ${JSON.stringify(value)}`);
    }
    return value;
  }

  action(value: unknown, where: string): SeccompActionName {
    if (value === 'SCMP_ACT_NOTIFY') this.fail(where, 'SCMP_ACT_NOTIFY (a seccomp agent) is not supported');
    return this.oneOf(value, SECCOMP_ACTIONS, where, 'action');
  }

  condition(value: unknown, where: string): SeccompFilterCondition {
    const object = value === undefined || value === null ? {} : this.object(value, where);
    const condition: SeccompFilterCondition = {
      arches: this.strings(object.arches, `${where}.arches`),
      caps: this.strings(object.caps, `${where}.caps`),
    };
    if (object.minKernel !== undefined && object.minKernel !== null && object.minKernel !== '') {
      const match = typeof object.minKernel === 'string' ? /^(\d+)\.(\d+)$/.exec(object.minKernel) : null;
      if (!match) {
        this.fail(`${where}.minKernel`, `expected "<kernel>.<major>", got ${JSON.stringify(object.minKernel)}`);
      }
      condition.minKernel = { major: Number(match[1]), minor: Number(match[2]) };
    }
    return condition;
  }

  arg(value: unknown, where: string): SeccompArg {
    const object = this.object(value, where);
    const index = object.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) {
      this.fail(`${where}.index`, `must be an argument index from 0 to 5: ${JSON.stringify(index)}`);
    }
    return {
      index,
      value: this.uint64(object.value, `${where}.value`),
      valueTwo: this.uint64(object.valueTwo, `${where}.valueTwo`),
      op: this.oneOf(object.op, SECCOMP_OPERATORS, `${where}.op`, 'operator'),
    };
  }

  syscall(value: unknown, where: string): SeccompSyscallRule {
    const object = this.object(value, where);
    const names = this.strings(object.names, `${where}.names`);
    if (object.name !== undefined && object.name !== null && object.name !== '') {
      if (typeof object.name !== 'string') this.fail(`${where}.name`, 'must be a string');
      if (names.length > 0) this.fail(where, "use either 'name' or 'names'");
      names.push(object.name);
    }
    if (names.length === 0) this.fail(where, 'names no syscall');
    return {
      names,
      action: this.action(object.action, `${where}.action`),
      errnoRet: this.errno(object.errnoRet, `${where}.errnoRet`),
      args: this.list(object.args, `${where}.args`).map((arg, i) => this.arg(arg, `${where}.args[${i}]`)),
      includes: this.condition(object.includes, `${where}.includes`),
      excludes: this.condition(object.excludes, `${where}.excludes`),
    };
  }
}

/**
 * Reads a profile (its JSON text or the parsed value). Returns null for a profile that names no
 * default action and no syscalls: Docker runs such a container without a filter.
 * Throws an EngineError of kind invalid-argument that names the bad field.
 */
export function parseSeccompProfile(input: unknown): SeccompProfile | null {
  const reader = new ProfileReader();
  let value = input;
  if (typeof input === 'string') {
    try {
      value = parseJson(input);
    } catch (error) {
      reader.fail('', `it is not JSON (${(error as Error).message})`);
    }
  }
  const object = reader.object(value, 'the profile');
  const syscalls = reader.list(object.syscalls, 'syscalls');
  if ((object.defaultAction === undefined || object.defaultAction === '') && syscalls.length === 0) return null;
  if (object.listenerPath) reader.fail('listenerPath', 'a seccomp agent (SCMP_ACT_NOTIFY) is not supported');
  const architectures = reader
    .list(object.architectures, 'architectures')
    .map((arch, i) => reader.oneOf(arch, SECCOMP_ARCHES, `architectures[${i}]`, 'architecture'));
  const archMap = reader.list(object.archMap, 'archMap').map((entry, i) => {
    const where = `archMap[${i}]`;
    const map = reader.object(entry, where);
    return {
      architecture: reader.oneOf(map.architecture, SECCOMP_ARCHES, `${where}.architecture`, 'architecture'),
      subArchitectures: reader
        .list(map.subArchitectures, `${where}.subArchitectures`)
        .map((arch, j) => reader.oneOf(arch, SECCOMP_ARCHES, `${where}.subArchitectures[${j}]`, 'architecture')),
    };
  });
  if (architectures.length > 0 && archMap.length > 0) {
    reader.fail('', "both 'architectures' and 'archMap' are specified: use either 'architectures' or 'archMap'");
  }
  return {
    defaultAction: reader.action(object.defaultAction, 'defaultAction'),
    defaultErrnoRet: reader.errno(object.defaultErrnoRet, 'defaultErrnoRet'),
    architectures,
    archMap,
    syscalls: syscalls.map((call, i) => reader.syscall(call, `syscalls[${i}]`)),
    flags: reader
      .list(object.flags, 'flags')
      .map((flag, i) => reader.oneOf(flag, SECCOMP_FLAGS, `flags[${i}]`, 'flag')),
  };
}
