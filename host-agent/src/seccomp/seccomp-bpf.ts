/**
 * Compiles a seccomp rule set (seccomp-rules.ts) into the classic BPF program that seccomp(2)
 * loads. The program's shape:
 *
 *   ld arch; one branch per architecture; anything else: KILL_PROCESS (x32 too, below)
 *   section of an architecture:
 *     ld nr; a binary search over ranges of syscall numbers, each range ending in one `ret`
 *     (an unconditional rule, the default, the -ENOSYS of numbers newer than the profile) or
 *     in a jump to the syscall's block
 *   block of a syscall with argument rules: each rule's tests in order, the first rule whose
 *     tests all hold returns its action; else the default
 *
 * Like libseccomp, an unconditional rule of a syscall wins over its conditional ones (the first
 * unconditional one, if there are several), and 64-bit arguments are compared as two 32-bit
 * halves; on a 32-bit architecture only the low half exists (libseccomp drops the upper half).
 */
import { invalidArgument } from '../engine-error.js';
import type { SeccompArg } from './seccomp-profile.js';
import type { SeccompArchRules, SeccompRule, SeccompRuleSet } from './seccomp-rules.js';
import { KERNEL, type SyscallArch } from './syscall-table.js';

/** struct sock_filter. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Offsets in struct seccomp_data (linux/seccomp.h): int nr; __u32 arch; __u64 ip; __u64 args[6]. */
export const SECCOMP_DATA = {
  nr: 0,
  arch: 4,
  /** Little-endian only: every architecture here is; the high half follows at +4. */
  argLow: (index: number) => 16 + 8 * index,
  argHigh: (index: number) => 16 + 8 * index + 4,
} as const;

export const BPF = {
  LD_W_ABS: KERNEL.BPF_LD | KERNEL.BPF_W | KERNEL.BPF_ABS,
  AND_K: KERNEL.BPF_ALU | KERNEL.BPF_AND | KERNEL.BPF_K,
  JA: KERNEL.BPF_JMP | KERNEL.BPF_JA,
  JEQ_K: KERNEL.BPF_JMP | KERNEL.BPF_JEQ | KERNEL.BPF_K,
  JGT_K: KERNEL.BPF_JMP | KERNEL.BPF_JGT | KERNEL.BPF_K,
  JGE_K: KERNEL.BPF_JMP | KERNEL.BPF_JGE | KERNEL.BPF_K,
  RET_K: KERNEL.BPF_RET | KERNEL.BPF_K,
} as const;

const ARCH_INFO: Record<SyscallArch, { audit: number; bits: 32 | 64 }> = {
  x86_64: { audit: KERNEL.AUDIT_ARCH_X86_64, bits: 64 },
  x86: { audit: KERNEL.AUDIT_ARCH_I386, bits: 32 },
  aarch64: { audit: KERNEL.AUDIT_ARCH_AARCH64, bits: 64 },
};

const U32_MAX = 0xffffffff;

/** A place in the program that jumps name before it is known. */
class Label {
  at = -1;
}

type Target = Label | null; // null: the next instruction

/** Forward jumps only (BPF has no others); conditional ones may reach 255 instructions. */
class Assembler {
  private readonly code: { code: number; k: number; jt: Target; jf: Target; far?: Label }[] = [];

  place(label: Label): void {
    label.at = this.code.length;
  }

  load(offset: number): void {
    this.code.push({ code: BPF.LD_W_ABS, k: offset, jt: null, jf: null });
  }

  and(mask: number): void {
    this.code.push({ code: BPF.AND_K, k: mask >>> 0, jt: null, jf: null });
  }

  ret(action: number): void {
    this.code.push({ code: BPF.RET_K, k: action >>> 0, jt: null, jf: null });
  }

  /** An unconditional jump: 32-bit offset, so as far as needed. */
  jump(label: Label): void {
    this.code.push({ code: BPF.JA, k: 0, jt: null, jf: null, far: label });
  }

  branch(code: number, k: number, ifTrue: Target, ifFalse: Target): void {
    this.code.push({ code, k: k >>> 0, jt: ifTrue, jf: ifFalse });
  }

  finish(): SockFilter[] {
    return this.code.map((insn, pc) => {
      const offset = (target: Target) => {
        if (target === null) return 0;
        if (target.at <= pc) throw new Error(`seccomp compiler: jump from ${pc} to an unplaced or earlier label`);
        return target.at - pc - 1;
      };
      if (insn.far) return { code: insn.code, jt: 0, jf: 0, k: offset(insn.far) };
      const jt = offset(insn.jt);
      const jf = offset(insn.jf);
      if (jt > 255 || jf > 255) throw new Error(`seccomp compiler: conditional jump at ${pc} is too long`);
      return { code: insn.code, jt, jf, k: insn.k };
    });
  }
}

/** How a range of syscall numbers ends: a fixed action, or the block of one syscall's rules. */
type Outcome = { ret: number } | { block: Label };

interface Range {
  first: number;
  last: number;
  outcome: Outcome;
}

function sameOutcome(a: Outcome, b: Outcome): boolean {
  return 'ret' in a && 'ret' in b && a.ret === b.ret;
}

/** The whole 32-bit space of syscall numbers as ranges, adjacent equal outcomes merged. */
function ranges(points: Map<number, Outcome>, defaults: { first: number; last: number; outcome: Outcome }[]): Range[] {
  const out: Range[] = [];
  const push = (range: Range) => {
    const previous = out.at(-1);
    if (previous && previous.last + 1 === range.first && sameOutcome(previous.outcome, range.outcome)) {
      previous.last = range.last;
    } else {
      out.push(range);
    }
  };
  const sorted = [...points.keys()].sort((a, b) => a - b);
  for (const span of defaults) {
    let next = span.first;
    for (const nr of sorted) {
      if (nr < span.first || nr > span.last) continue;
      if (nr > next) push({ first: next, last: nr - 1, outcome: span.outcome });
      push({ first: nr, last: nr, outcome: points.get(nr)! });
      next = nr + 1;
    }
    if (next <= span.last) push({ first: next, last: span.last, outcome: span.outcome });
  }
  return out;
}

function emitOutcome(asm: Assembler, outcome: Outcome): void {
  if ('ret' in outcome) asm.ret(outcome.ret);
  else asm.jump(outcome.block);
}

/** A binary search over ranges (sorted, covering everything from ranges[0].first on). */
function emitSearch(asm: Assembler, list: Range[]): void {
  if (list.length === 1) {
    emitOutcome(asm, list[0].outcome);
    return;
  }
  const middle = Math.floor(list.length / 2);
  const right = list.slice(middle);
  const left = new Label();
  const rightLabel = new Label();
  // nr >= right's first: the next instruction (right's only leaf, or a jump to the right half).
  asm.branch(BPF.JGE_K, right[0].first, null, left);
  if (right.length === 1) emitOutcome(asm, right[0].outcome);
  else asm.jump(rightLabel);
  asm.place(left);
  emitSearch(asm, list.slice(0, middle));
  if (right.length > 1) {
    asm.place(rightLabel);
    emitSearch(asm, right);
  }
}

/** One argument test: falls through when it holds, jumps to fail when not. */
function emitArgTest(asm: Assembler, arg: SeccompArg, bits: 32 | 64, fail: Label): void {
  const low = Number(arg.value & 0xffffffffn);
  const high = Number((arg.value >> 32n) & 0xffffffffn);
  const pass = new Label();
  const lowOnly = bits === 32;
  switch (arg.op) {
    case 'SCMP_CMP_EQ':
      if (!lowOnly) {
        asm.load(SECCOMP_DATA.argHigh(arg.index));
        asm.branch(BPF.JEQ_K, high, null, fail);
      }
      asm.load(SECCOMP_DATA.argLow(arg.index));
      asm.branch(BPF.JEQ_K, low, null, fail);
      break;
    case 'SCMP_CMP_NE':
      if (!lowOnly) {
        asm.load(SECCOMP_DATA.argHigh(arg.index));
        asm.branch(BPF.JEQ_K, high, null, pass);
      }
      asm.load(SECCOMP_DATA.argLow(arg.index));
      asm.branch(BPF.JEQ_K, low, fail, null);
      break;
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE':
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE': {
      // a > v (or >=) when the high halves decide, else the low halves; LT and LE are their negations.
      const greater = arg.op === 'SCMP_CMP_GT' || arg.op === 'SCMP_CMP_GE';
      const [above, below] = greater ? [pass, fail] : [fail, pass];
      if (!lowOnly) {
        asm.load(SECCOMP_DATA.argHigh(arg.index));
        asm.branch(BPF.JGT_K, high, above, null);
        asm.branch(BPF.JEQ_K, high, null, below);
      }
      asm.load(SECCOMP_DATA.argLow(arg.index));
      const code = arg.op === 'SCMP_CMP_GT' || arg.op === 'SCMP_CMP_LE' ? BPF.JGT_K : BPF.JGE_K;
      asm.branch(code, low, greater ? null : fail, greater ? fail : null);
      break;
    }
    case 'SCMP_CMP_MASKED_EQ': {
      const datum = arg.valueTwo;
      if (!lowOnly) {
        asm.load(SECCOMP_DATA.argHigh(arg.index));
        asm.and(high);
        asm.branch(BPF.JEQ_K, Number((datum >> 32n) & 0xffffffffn), null, fail);
      }
      asm.load(SECCOMP_DATA.argLow(arg.index));
      asm.and(low);
      asm.branch(BPF.JEQ_K, Number(datum & 0xffffffffn), null, fail);
      break;
    }
  }
  asm.place(pass);
}

function emitBlock(asm: Assembler, rules: SeccompRule[], bits: 32 | 64, defaultAction: number): void {
  for (const rule of rules) {
    const fail = new Label();
    for (const arg of rule.args) emitArgTest(asm, arg, bits, fail);
    asm.ret(rule.action);
    asm.place(fail);
  }
  asm.ret(defaultAction);
}

function emitSection(asm: Assembler, arch: SeccompArchRules, defaultAction: number): void {
  const { bits } = ARCH_INFO[arch.arch];
  const points = new Map<number, Outcome>();
  const blocks: { label: Label; rules: SeccompRule[] }[] = [];
  for (const [nr, rules] of arch.rules) {
    const unconditional = rules.find((rule) => rule.args.length === 0);
    if (unconditional) {
      points.set(nr, { ret: unconditional.action });
    } else {
      const label = new Label();
      blocks.push({ label, rules });
      points.set(nr, { block: label });
    }
  }
  const fallback: Outcome = { ret: defaultAction };
  const enosys: Outcome = { ret: (KERNEL.SECCOMP_RET_ERRNO | KERNEL.ENOSYS) >>> 0 };
  const kill: Outcome = { ret: KERNEL.SECCOMP_RET_KILL_PROCESS };
  // x86_64 numbers with bit 30 set are x32 calls, which have no section: killed like a foreign arch.
  const top = arch.arch === 'x86_64' ? KERNEL.__X32_SYSCALL_BIT - 1 : U32_MAX;
  const spans: { first: number; last: number; outcome: Outcome }[] = [];
  if (arch.enosysAbove !== undefined && arch.enosysAbove < top) {
    spans.push({ first: 0, last: arch.enosysAbove, outcome: fallback });
    spans.push({ first: arch.enosysAbove + 1, last: top, outcome: enosys });
  } else {
    spans.push({ first: 0, last: top, outcome: fallback });
  }
  if (top < U32_MAX) spans.push({ first: top + 1, last: U32_MAX, outcome: kill });

  asm.load(SECCOMP_DATA.nr);
  emitSearch(asm, ranges(points, spans));
  for (const block of blocks) {
    asm.place(block.label);
    emitBlock(asm, block.rules, bits, defaultAction);
  }
}

/** The BPF program of a rule set. Throws invalid-argument when it would exceed the kernel's 4096 instructions. */
export function compileSeccompFilter(set: SeccompRuleSet): SockFilter[] {
  const asm = new Assembler();
  asm.load(SECCOMP_DATA.arch);
  const sections = set.arches.map((arch) => ({ arch, label: new Label() }));
  for (const { arch, label } of sections) {
    const next = new Label();
    asm.branch(BPF.JEQ_K, ARCH_INFO[arch.arch].audit, null, next);
    asm.jump(label);
    asm.place(next);
  }
  asm.ret(KERNEL.SECCOMP_RET_KILL_PROCESS);
  for (const { arch, label } of sections) {
    asm.place(label);
    emitSection(asm, arch, set.defaultAction);
  }
  const program = asm.finish();
  if (program.length > KERNEL.BPF_MAXINSNS) {
    throw invalidArgument(
      `invalid seccomp profile: it compiles to ${program.length} BPF instructions, more than the kernel's ${KERNEL.BPF_MAXINSNS}`,
    );
  }
  return program;
}
