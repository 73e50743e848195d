import { describe, expect, it } from 'vitest';

import { DOCKER_DEFAULT_CAPABILITIES } from '../shim/capabilities.js';
import { BPF, compileSeccompFilter, type SockFilter } from './seccomp-bpf.js';
import { defaultSeccompProfile } from './default-seccomp-profile.js';
import { parseSeccompProfile, SECCOMP_OPERATORS, type SeccompOperator } from './seccomp-profile.js';
import { selectSeccompRules, type SeccompTarget } from './seccomp-rules.js';
import { KERNEL, SYSCALL_NUMBERS, type SyscallArch } from './syscall-table.js';

/** A classic BPF interpreter for the instructions the compiler emits, over a struct seccomp_data. */
function run(program: SockFilter[], call: { arch: number; nr: number; args?: bigint[] }): number {
  const data = new DataView(new ArrayBuffer(64));
  data.setInt32(0, call.nr | 0, true);
  data.setUint32(4, call.arch, true);
  for (const [i, arg] of (call.args ?? []).entries()) data.setBigUint64(16 + 8 * i, BigInt.asUintN(64, arg), true);
  let a = 0;
  for (let pc = 0, steps = 0; steps < 10_000; steps++) {
    const insn = program[pc];
    if (!insn) throw new Error(`fell off the program at ${pc}`);
    switch (insn.code) {
      case BPF.LD_W_ABS:
        a = data.getUint32(insn.k, true);
        pc++;
        break;
      case BPF.AND_K:
        a = (a & insn.k) >>> 0;
        pc++;
        break;
      case BPF.JA:
        pc += 1 + insn.k;
        break;
      case BPF.JEQ_K:
        pc += 1 + (a === insn.k ? insn.jt : insn.jf);
        break;
      case BPF.JGT_K:
        pc += 1 + (a > insn.k ? insn.jt : insn.jf);
        break;
      case BPF.JGE_K:
        pc += 1 + (a >= insn.k ? insn.jt : insn.jf);
        break;
      case BPF.RET_K:
        return insn.k;
      default:
        throw new Error(`unknown opcode ${insn.code} at ${pc}`);
    }
  }
  throw new Error('the program loops');
}

const AUDIT: Record<SyscallArch, number> = {
  x86_64: KERNEL.AUDIT_ARCH_X86_64,
  x86: KERNEL.AUDIT_ARCH_I386,
  aarch64: KERNEL.AUDIT_ARCH_AARCH64,
};
const ALLOW = KERNEL.SECCOMP_RET_ALLOW;
const KILL = KERNEL.SECCOMP_RET_KILL_PROCESS;
const errno = (value: number) => (KERNEL.SECCOMP_RET_ERRNO | value) >>> 0;
const EPERM = errno(1);
const ENOSYS = errno(38);

const amd64: SeccompTarget = {
  hostArch: 'x64',
  capabilities: DOCKER_DEFAULT_CAPABILITIES,
  kernelRelease: '6.18.44',
};

function filter(profile: unknown, target: Partial<SeccompTarget> = {}) {
  const parsed = typeof profile === 'string' || profile === null ? profile : JSON.stringify(profile);
  const rules = selectSeccompRules(parseSeccompProfile(parsed)!, { ...amd64, ...target });
  const program = compileSeccompFilter(rules);
  return {
    program,
    call: (arch: SyscallArch, name: string, ...args: (number | bigint)[]) => {
      const nr = SYSCALL_NUMBERS[arch][name];
      if (nr === undefined) throw new Error(`no ${name} on ${arch}`);
      return run(program, { arch: AUDIT[arch], nr, args: args.map(BigInt) });
    },
    number: (arch: SyscallArch, nr: number) => run(program, { arch: AUDIT[arch], nr }),
    raw: (call: { arch: number; nr: number }) => run(program, call),
  };
}

function docker(target: Partial<SeccompTarget> = {}) {
  const rules = selectSeccompRules(defaultSeccompProfile(), { ...amd64, ...target });
  const program = compileSeccompFilter(rules);
  return {
    program,
    call: (arch: SyscallArch, name: string, ...args: (number | bigint)[]) =>
      run(program, { arch: AUDIT[arch], nr: SYSCALL_NUMBERS[arch][name], args: args.map(BigInt) }),
    number: (arch: SyscallArch, nr: number) => run(program, { arch: AUDIT[arch], nr }),
    raw: (call: { arch: number; nr: number }) => run(program, call),
  };
}

const CLONE_NEWUSER = 0x10000000;
const SIGCHLD = 17;

describe('compileSeccompFilter with Docker’s default profile', () => {
  it('allows ordinary work and refuses mount, unshare, reboot, swapon and keyctl with EPERM', () => {
    const f = docker();
    for (const name of ['read', 'write', 'openat', 'mkdir', 'execve', 'nanosleep', 'sendto', 'capset', 'prctl']) {
      expect(f.call('x86_64', name), name).toBe(ALLOW);
    }
    for (const name of [
      'mount',
      'umount2',
      'unshare',
      'reboot',
      'swapon',
      'keyctl',
      'setns',
      'pivot_root',
      'kexec_load',
    ]) {
      expect(f.call('x86_64', name), name).toBe(EPERM);
    }
  });

  it('allows clone without namespace flags, refuses it with CLONE_NEWUSER, and gives clone3 ENOSYS', () => {
    const f = docker();
    expect(f.call('x86_64', 'clone', SIGCHLD)).toBe(ALLOW);
    expect(f.call('x86_64', 'clone', CLONE_NEWUSER | SIGCHLD)).toBe(EPERM);
    expect(f.call('x86_64', 'clone3')).toBe(ENOSYS);
  });

  it('allows sockets except AF_ALG (38) and AF_VSOCK (40)', () => {
    const f = docker();
    expect(f.call('x86_64', 'socket', 2)).toBe(ALLOW);
    expect(f.call('x86_64', 'socket', 38)).toBe(EPERM);
    expect(f.call('x86_64', 'socket', 39)).toBe(ALLOW);
    expect(f.call('x86_64', 'socket', 40)).toBe(EPERM);
    expect(f.call('x86_64', 'socket', 41)).toBe(ALLOW);
  });

  it('allows only the listed personalities, the 64-bit query 0xffffffff among them', () => {
    const f = docker();
    for (const persona of [0, 8, 0x20000, 0x20008, 0xffffffff])
      expect(f.call('x86_64', 'personality', persona)).toBe(ALLOW);
    expect(f.call('x86_64', 'personality', 0x0400000)).toBe(EPERM);
    expect(f.call('x86_64', 'personality', 0x1_0000_0000n)).toBe(EPERM);
  });

  it('lets CAP_SYS_ADMIN mount, unshare and clone namespaces, and CAP_SYS_BOOT reboot', () => {
    const f = docker({ capabilities: [...DOCKER_DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT'] });
    expect(f.call('x86_64', 'mount')).toBe(ALLOW);
    expect(f.call('x86_64', 'unshare')).toBe(ALLOW);
    expect(f.call('x86_64', 'clone', CLONE_NEWUSER)).toBe(ALLOW);
    expect(f.call('x86_64', 'clone3')).toBe(ALLOW);
    expect(f.call('x86_64', 'reboot')).toBe(ALLOW);
    expect(f.call('x86_64', 'kexec_load')).toBe(EPERM);
  });

  it('allows ptrace only from kernel 4.8 on (minKernel)', () => {
    expect(docker({ kernelRelease: '4.4.0-210-generic' }).call('x86_64', 'ptrace')).toBe(EPERM);
    expect(docker({ kernelRelease: '4.8.0' }).call('x86_64', 'ptrace')).toBe(ALLOW);
  });

  it('filters 32-bit x86 calls with their own numbers and kills x32 and foreign architectures', () => {
    const f = docker();
    expect(f.call('x86', 'read')).toBe(ALLOW);
    expect(f.call('x86', 'socketcall')).toBe(ALLOW);
    expect(f.call('x86', 'mount')).toBe(EPERM);
    expect(f.call('x86', 'modify_ldt')).toBe(ALLOW); // includes arches amd64, x32, x86: the host is amd64
    expect(f.call('x86_64', 'arch_prctl')).toBe(ALLOW);
    expect(f.number('x86_64', KERNEL.__X32_SYSCALL_BIT | SYSCALL_NUMBERS.x86_64.read)).toBe(KILL);
    expect(f.number('x86_64', -1)).toBe(KILL);
    expect(f.call('aarch64', 'read')).toBe(KILL);
    expect(f.raw({ arch: 0x40000028 /* AUDIT_ARCH_ARM */, nr: 3 })).toBe(KILL);
  });

  it('answers ENOSYS for syscalls newer than every one the profile names, so that libcs fall back', () => {
    const f = docker();
    const highest = Math.max(...Object.values(SYSCALL_NUMBERS.x86_64));
    expect(f.number('x86_64', highest + 1)).toBe(ENOSYS);
    expect(f.number('x86_64', 0x3fffffff)).toBe(ENOSYS);
    // A number inside the table that the profile does not allow keeps the default action.
    expect(f.call('x86_64', 'uselib')).toBe(EPERM);
  });

  it('compiles for an arm64 host with its numbers, its own arch conditions, and kills x86_64', () => {
    const f = docker({ hostArch: 'arm64' });
    expect(f.call('aarch64', 'mkdirat')).toBe(ALLOW);
    expect(f.call('aarch64', 'mount')).toBe(EPERM);
    expect(f.call('aarch64', 'clone', SIGCHLD)).toBe(ALLOW);
    expect(f.call('x86_64', 'read')).toBe(KILL);
    expect(SYSCALL_NUMBERS.aarch64['arch_prctl']).toBeUndefined();
  });

  it('stays far below the kernel’s 4096 instructions', () => {
    expect(docker().program.length).toBeLessThan(1000);
  });
});

describe('compileSeccompFilter semantics', () => {
  it('returns a profile’s errnoRet and leaves everything else to an ALLOW default, without the ENOSYS stub', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    });
    expect(f.call('x86_64', 'mkdir')).toBe(errno(13));
    expect(f.call('x86_64', 'mkdirat')).toBe(errno(13));
    expect(f.call('x86_64', 'mount')).toBe(ALLOW);
    expect(f.number('x86_64', 1000)).toBe(ALLOW);
  });

  it('maps every action to its SECCOMP_RET value, ERRNO and TRACE defaulting to EPERM', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['write'], action: 'SCMP_ACT_KILL' },
        { names: ['open'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['close'], action: 'SCMP_ACT_TRAP' },
        { names: ['stat'], action: 'SCMP_ACT_TRACE' },
        { names: ['fstat'], action: 'SCMP_ACT_LOG' },
        { names: ['lstat'], action: 'SCMP_ACT_ERRNO' },
      ],
    });
    expect(f.call('x86_64', 'read')).toBe(ALLOW);
    expect(f.call('x86_64', 'write')).toBe(KERNEL.SECCOMP_RET_KILL_THREAD);
    expect(f.call('x86_64', 'open')).toBe(KILL);
    expect(f.call('x86_64', 'close')).toBe(KERNEL.SECCOMP_RET_TRAP);
    expect(f.call('x86_64', 'stat')).toBe((KERNEL.SECCOMP_RET_TRACE | 1) >>> 0);
    expect(f.call('x86_64', 'fstat')).toBe(KERNEL.SECCOMP_RET_LOG);
    expect(f.call('x86_64', 'lstat')).toBe(EPERM);
    expect(f.call('x86_64', 'mount')).toBe(ENOSYS);
  });

  it('ANDs the tests of one rule, and makes a rule of each test when an argument is tested twice (runc)', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        {
          names: ['kill'],
          action: 'SCMP_ACT_ERRNO',
          args: [
            { index: 0, value: 1, op: 'SCMP_CMP_EQ' },
            { index: 1, value: 9, op: 'SCMP_CMP_EQ' },
          ],
        },
        {
          names: ['tgkill'],
          action: 'SCMP_ACT_ERRNO',
          args: [
            { index: 2, value: 9, op: 'SCMP_CMP_EQ' },
            { index: 2, value: 15, op: 'SCMP_CMP_EQ' },
          ],
        },
      ],
    });
    expect(f.call('x86_64', 'kill', 1, 9)).toBe(EPERM);
    expect(f.call('x86_64', 'kill', 1, 15)).toBe(ALLOW);
    expect(f.call('x86_64', 'kill', 2, 9)).toBe(ALLOW);
    expect(f.call('x86_64', 'tgkill', 1, 1, 9)).toBe(EPERM);
    expect(f.call('x86_64', 'tgkill', 1, 1, 15)).toBe(EPERM);
    expect(f.call('x86_64', 'tgkill', 1, 1, 2)).toBe(ALLOW);
  });

  it('lets an unconditional rule win over conditional ones, and the first unconditional one (libseccomp)', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['kill'], action: 'SCMP_ACT_TRAP', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] },
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 3 },
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 4 },
      ],
    });
    expect(f.call('x86_64', 'kill', 1)).toBe(errno(3));
    expect(f.call('x86_64', 'kill', 2)).toBe(errno(3));
  });

  it('skips names an architecture lacks, and rules whose includes or excludes rule them out', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['no_such_call', 'read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['write'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
        { names: ['close'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN', 'CAP_CHOWN'] } },
        { names: ['chown'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_CHOWN'] } },
        { names: ['fchown'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '7.0' } },
        // Keeps the ENOSYS stub above every number used here.
        { names: ['set_mempolicy_home_node'], action: 'SCMP_ACT_ALLOW' },
      ],
    });
    expect(f.call('x86_64', 'read')).toBe(ALLOW);
    expect(f.call('x86_64', 'write')).toBe(EPERM);
    expect(f.call('x86_64', 'close')).toBe(EPERM);
    expect(f.call('x86_64', 'mount')).toBe(EPERM);
    expect(f.call('x86_64', 'chown')).toBe(EPERM);
    expect(f.call('x86_64', 'fchown')).toBe(ALLOW);
  });

  it('uses the old-style architectures list as it is, and kills what it leaves out', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
    });
    expect(f.call('x86_64', 'mkdir')).toBe(EPERM);
    expect(f.call('x86', 'mkdir')).toBe(KILL);
  });

  const samples = [
    0n,
    1n,
    2n,
    0x7fn,
    0xffn,
    0xffff_fffen,
    0xffff_ffffn,
    0x1_0000_0000n,
    0x1_0000_0001n,
    0xffff_ffff_0000_0000n,
    0x8000_0000_0000_0000n,
    0xffff_ffff_ffff_ffffn,
  ];
  const reference: Record<SeccompOperator, (arg: bigint, value: bigint, two: bigint) => boolean> = {
    SCMP_CMP_NE: (arg, value) => arg !== value,
    SCMP_CMP_LT: (arg, value) => arg < value,
    SCMP_CMP_LE: (arg, value) => arg <= value,
    SCMP_CMP_EQ: (arg, value) => arg === value,
    SCMP_CMP_GE: (arg, value) => arg >= value,
    SCMP_CMP_GT: (arg, value) => arg > value,
    SCMP_CMP_MASKED_EQ: (arg, mask, two) => (arg & mask) === two,
  };

  it.each(SECCOMP_OPERATORS)('compares 64-bit arguments with %s exactly, as two 32-bit halves', (op) => {
    for (const value of samples) {
      const two = value & 0xf0f0_f0f0_0f0f_0f0fn;
      // The JSON text carries values above 2^53 exactly.
      const f = filter(
        `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO",` +
          `"args":[{"index":3,"value":${value},"valueTwo":${two},"op":"${op}"}]}]}`,
      );
      for (const arg of [...samples, value - 1n, value + 1n].filter((v) => v >= 0n && v < 1n << 64n)) {
        const expected = reference[op](arg, value, two) ? EPERM : ALLOW;
        expect(f.call('x86_64', 'kill', 0, 0, 0, arg), `${arg} ${op} ${value}`).toBe(expected);
      }
    }
  });

  it.each(SECCOMP_OPERATORS)('compares only the low 32 bits with %s on 32-bit x86, like libseccomp', (op) => {
    const low = (v: bigint) => v & 0xffff_ffffn;
    for (const value of samples) {
      const two = value & 0xf0f0_f0f0_0f0f_0f0fn;
      const f = filter({
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
        syscalls: [
          {
            names: ['kill'],
            action: 'SCMP_ACT_ERRNO',
            args: [{ index: 1, value: Number(low(value)), valueTwo: Number(low(two)), op }],
          },
        ],
      });
      for (const arg of samples.map(low)) {
        const expected = reference[op](arg, low(value), low(two)) ? EPERM : ALLOW;
        expect(f.call('x86', 'kill', 0, arg), `${arg} ${op} ${value}`).toBe(expected);
      }
    }
  });

  it('refuses a profile that compiles to more than 4096 instructions', () => {
    const syscalls = Array.from({ length: 1000 }, (_, i) => ({
      names: ['kill'],
      action: 'SCMP_ACT_ERRNO',
      args: [{ index: 0, value: i, op: 'SCMP_CMP_EQ' }],
    }));
    expect(() => filter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls })).toThrow(/more than the kernel's 4096/);
  });

  it('keeps every conditional jump within 255 instructions and every jump forward', () => {
    for (const insn of docker().program) {
      expect(insn.jt).toBeLessThanOrEqual(255);
      expect(insn.jf).toBeLessThanOrEqual(255);
    }
  });
});
