import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { DEFAULT_SECCOMP_PROFILE_PATH, defaultSeccompProfile } from './default-seccomp-profile.js';
import { parseSeccompProfile } from './seccomp-profile.js';

const bad = (profile: unknown) => () =>
  parseSeccompProfile(typeof profile === 'string' ? profile : JSON.stringify(profile));

describe(parseSeccompProfile.name, () => {
  it("reads Docker's default profile: EPERM by default, archMap, hundreds of syscalls", () => {
    const profile = defaultSeccompProfile();
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(1);
    expect(profile.archMap.find((entry) => entry.architecture === 'SCMP_ARCH_X86_64')?.subArchitectures).toEqual([
      'SCMP_ARCH_X86',
      'SCMP_ARCH_X32',
    ]);
    expect(profile.syscalls.length).toBeGreaterThan(30);
    const clone = profile.syscalls.find((call) => call.names[0] === 'clone' && call.args.length > 0);
    expect(clone?.args[0]).toEqual({ index: 0, value: 2114060288n, valueTwo: 0n, op: 'SCMP_CMP_MASKED_EQ' });
    expect(clone?.excludes.caps).toEqual(['CAP_SYS_ADMIN']);
  });

  it('ships the default profile unchanged from Docker', () => {
    const text = readFileSync(DEFAULT_SECCOMP_PROFILE_PATH, 'utf8');
    expect(text.startsWith('{\n\t"defaultAction": "SCMP_ACT_ERRNO"')).toBe(true);
  });

  it('treats a profile with no default action and no syscalls as no filter, as Docker does', () => {
    expect(parseSeccompProfile('{}')).toBeNull();
    expect(parseSeccompProfile({ syscalls: [] })).toBeNull();
  });

  it('keeps 64-bit values exact, beyond what a JSON number holds', () => {
    const profile = parseSeccompProfile(
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO",' +
        '"args":[{"index":0,"value":18446744073709551615,"valueTwo":9007199254740993,"op":"SCMP_CMP_MASKED_EQ"}]}]}',
    );
    expect(profile?.syscalls[0]?.args[0]?.value).toBe(0xffff_ffff_ffff_ffffn);
    expect(profile?.syscalls[0]?.args[0]?.valueTwo).toBe(9007199254740993n);
  });

  it('accepts the old single `name`', () => {
    const profile = parseSeccompProfile({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ name: 'kill', action: 'SCMP_ACT_ERRNO' }],
    });
    expect(profile?.syscalls[0]?.names).toEqual(['kill']);
  });

  it('refuses what is not JSON', () => {
    expect(bad('{"defaultAction": ')).toThrow(/invalid seccomp profile: it is not JSON/);
  });

  it('names the field of an unknown action, operator or architecture', () => {
    expect(bad({ defaultAction: 'SCMP_ACT_BOGUS' })).toThrow(
      /invalid seccomp profile: defaultAction: unknown action "SCMP_ACT_BOGUS" \(one of SCMP_ACT_KILL, /,
    );
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kill'], action: 'ALLOW' }] })).toThrow(
      /syscalls\[0\]\.action: unknown action "ALLOW"/,
    );
    expect(
      bad({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_LIKE' }] }],
      }),
    ).toThrow(/syscalls\[0\]\.args\[0\]\.op: unknown operator "SCMP_CMP_LIKE"/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'] })).toThrow(
      /architectures\[0\]: unknown architecture "SCMP_ARCH_Z80"/,
    );
  });

  it('refuses an argument index past 5, negative values, and errnos past 16 bits', () => {
    const call = (extra: Record<string, unknown>) => ({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', ...extra }],
    });
    expect(bad(call({ args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }))).toThrow(
      /args\[0\]\.index: must be an argument index from 0 to 5/,
    );
    expect(bad(call({ args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }))).toThrow(
      /args\[0\]\.value: must be an integer from 0/,
    );
    expect(bad(call({ errnoRet: 70000 }))).toThrow(/syscalls\[0\]\.errnoRet: must be an errno number from 0 to 65535/);
  });

  it("refuses both 'name' and 'names', and both 'architectures' and 'archMap', like Docker", () => {
    expect(
      bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ERRNO' }] }),
    ).toThrow(/syscalls\[0\]: use either 'name' or 'names'/);
    expect(
      bad({
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: [] }],
      }),
    ).toThrow(/use either 'architectures' or 'archMap'/);
  });

  it('refuses a malformed minKernel and seccomp agents', () => {
    expect(
      bad({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', includes: { minKernel: '4' } }],
      }),
    ).toThrow(/includes\.minKernel: expected "<kernel>\.<major>", got "4"/);
    expect(bad({ defaultAction: 'SCMP_ACT_NOTIFY' })).toThrow(/SCMP_ACT_NOTIFY \(a seccomp agent\) is not supported/);
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] })).toThrow(
      /flags\[0\]: unknown flag/,
    );
  });

  it('refuses a syscall rule without a default action (runc cannot convert an empty action)', () => {
    expect(bad({ syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO' }] })).toThrow(
      /defaultAction: unknown action undefined/,
    );
  });
});
