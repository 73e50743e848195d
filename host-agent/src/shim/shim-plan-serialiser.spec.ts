import { describe, expect, it } from 'vitest';

import { DOCKER_DEFAULT_CAPABILITIES, processCapabilities } from './capabilities.js';
import type { ShimExecPlan, ShimPlan } from './shim-plan.js';
import {
  escapeField,
  parseShimRecords,
  serialiseShimExecPlan,
  serialiseShimPlan,
  unescapeField,
} from './shim-plan-serialiser.js';

function minimalPlan(overrides: Partial<ShimPlan> = {}): ShimPlan {
  return {
    stateDir: '/var/lib/skiff/containers/c1',
    logPath: '/var/lib/skiff/containers/c1/c1-json.log',
    namespaces: ['mount', 'pid'],
    rootfs: { kind: 'bind', target: '/var/lib/skiff/containers/c1/rootfs', source: '/srv/root' },
    mounts: [],
    capabilities: processCapabilities(DOCKER_DEFAULT_CAPABILITIES),
    user: { uid: 0, gid: 0 },
    cwd: '/',
    env: ['PATH=/usr/bin:/bin'],
    args: ['echo', 'hi'],
    noNewPrivileges: true,
    stdio: { stdin: { kind: 'null' }, stdout: { kind: 'log' }, stderr: { kind: 'log' } },
    ...overrides,
  };
}

function records(plan: ShimPlan): string[][] {
  return parseShimRecords(serialiseShimPlan(plan));
}

function recordsOf(plan: ShimPlan, key: string): string[][] {
  return records(plan)
    .filter(([k]) => k === key)
    .map(([, ...fields]) => fields);
}

describe(serialiseShimPlan.name, () => {
  it('writes a minimal plan as one record per line, between the version header and end', () => {
    expect(serialiseShimPlan(minimalPlan()).toString()).toBe(
      [
        'skiff-shim-plan 1',
        'state-dir /var/lib/skiff/containers/c1',
        'log-path /var/lib/skiff/containers/c1/c1-json.log',
        'namespace pid',
        'namespace mount',
        'rootfs-bind /var/lib/skiff/containers/c1/rootfs /srv/root',
        'root-propagation 0x44000',
        'capabilities 0xa80425fb 0xa80425fb 0xa80425fb 0x0 0x0',
        'user 0 0',
        'groups',
        'cwd /',
        'env PATH=/usr/bin:/bin',
        'arg echo',
        'arg hi',
        'no-new-privileges',
        'stdin null',
        'stdout log',
        'stderr log',
        'end',
        '',
      ].join('\n'),
    );
  });

  it('writes a seccomp filter after no-new-privileges as flags and 16 hex digits per instruction', () => {
    const seccomp = {
      instructions: [
        { code: 0x20, jt: 0, jf: 0, k: 4 },
        { code: 0x15, jt: 1, jf: 255, k: 0xc000003e },
        { code: 0x06, jt: 0, jf: 0, k: 0x7fff0000 },
      ],
      flags: 2,
    };
    const lines = serialiseShimPlan(minimalPlan({ seccomp })).toString().split('\n');
    expect(lines[lines.indexOf('no-new-privileges') + 1]).toBe(
      'seccomp 0x2 0020000000000004001501ffc000003e000600007fff0000',
    );
  });

  it('refuses an empty or oversized seccomp program and out-of-range fields', () => {
    expect(() => serialiseShimPlan(minimalPlan({ seccomp: { instructions: [] } }))).toThrow(
      'invalid plan: seccomp.instructions must hold 1 to 4096 instructions: 0',
    );
    const ret = { code: 6, jt: 0, jf: 0, k: 0 };
    expect(() => serialiseShimPlan(minimalPlan({ seccomp: { instructions: Array(4097).fill(ret) } }))).toThrow(
      /1 to 4096 instructions: 4097/,
    );
    expect(() => serialiseShimPlan(minimalPlan({ seccomp: { instructions: [{ ...ret, jt: 256 }] } }))).toThrow(
      'invalid plan: seccomp.instructions[0].jt must be an integer from 0 to 255: 256',
    );
  });

  it('escapes spaces, line breaks, percent signs and non-ASCII bytes, and writes "" as a lone %', () => {
    const args = recordsOf(minimalPlan({ args: ['sh', '-c', 'echo a b\n100%é', ''] }), 'arg');
    expect(args).toEqual([['sh'], ['-c'], ['echo a b\n100%é'], ['']]);
    const text = serialiseShimPlan(minimalPlan({ args: ['sh', 'a b\n100%é', ''] })).toString();
    expect(text).toContain('arg a%20b%0A100%25%C3%A9\n');
    expect(text).toContain('arg %\n');
  });

  it('keeps any string on one line and gives it back unchanged', () => {
    const nasty = ['\r\n\t', ' leading', 'trailing ', '%%', '%', '#not a comment', 'ünïcødé ✓', '\u0001\u007f'];
    const plan = minimalPlan({ args: ['x', ...nasty], env: nasty.map((v, i) => `V${i}=${v}`) });
    const text = serialiseShimPlan(plan).toString();
    expect(text.split('\n').every((line) => !/[ ]{2}|^ | $/.test(line))).toBe(true);
    expect(recordsOf(plan, 'arg').map(([a]) => a)).toEqual(['x', ...nasty]);
    expect(recordsOf(plan, 'env').map(([e]) => e)).toEqual(plan.env);
  });

  it('writes an overlay rootfs with its layers top first', () => {
    const plan = minimalPlan({
      rootfs: {
        kind: 'overlay',
        target: '/r/root',
        upperDir: '/r/upper',
        workDir: '/r/work',
        lowerDirs: ['/l/top', '/l/base'],
      },
    });
    expect(recordsOf(plan, 'rootfs-overlay')).toEqual([['/r/root', '/r/upper', '/r/work', '/l/top', '/l/base']]);
  });

  it("encodes mount flags and propagation as the kernel's MS_* bits, in the planned order", () => {
    const plan = minimalPlan({
      mounts: [
        { type: 'proc', source: 'proc', target: '/proc', flags: ['nosuid', 'noexec', 'nodev'] },
        { type: 'bind', source: '/srv/data', target: '/data', flags: ['rdonly', 'rec'], propagation: 'rslave' },
        { type: 'tmpfs', source: 'tmpfs', target: '/run', flags: ['nosuid'], data: 'size=1m,mode=0755' },
      ],
    });
    expect(recordsOf(plan, 'mount')).toEqual([
      ['proc', 'proc', '/proc', '0xe', '0x0'],
      ['bind', '/srv/data', '/data', '0x5001', '0x84000'],
      ['tmpfs', 'tmpfs', '/run', '0x2', '0x0', 'size=1m,mode=0755'],
    ]);
  });

  it('writes devices with octal modes and symlinks, masked and read-only paths', () => {
    const plan = minimalPlan({
      devices: [{ path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }],
      symlinks: [{ path: '/dev/fd', target: '/proc/self/fd' }],
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
    });
    expect(recordsOf(plan, 'device')).toEqual([['/dev/null', 'c', '1', '3', '0666', '0', '0']]);
    expect(recordsOf(plan, 'symlink')).toEqual([['/dev/fd', '/proc/self/fd']]);
    expect(recordsOf(plan, 'masked-path')).toEqual([['/proc/kcore']]);
    expect(recordsOf(plan, 'readonly-path')).toEqual([['/proc/sys']]);
  });

  it('writes rlimits by RLIMIT_* number, with unlimited spelt out and 64-bit values kept exact', () => {
    const plan = minimalPlan({
      rlimits: [
        { type: 'nofile', soft: 1024, hard: 4096 },
        { type: 'core', soft: 'unlimited', hard: 'unlimited' },
        { type: 'fsize', soft: 2n ** 62n, hard: 'unlimited' },
      ],
    });
    expect(recordsOf(plan, 'rlimit')).toEqual([
      ['7', '1024', '4096'],
      ['4', 'unlimited', 'unlimited'],
      ['1', String(2n ** 62n), 'unlimited'],
    ]);
  });

  it('writes the user, additional groups, user namespace maps, cgroups and stdio fds', () => {
    const plan = minimalPlan({
      namespaces: ['user', 'mount', 'pid', 'net', 'uts'],
      uidMappings: [{ insideId: 0, outsideId: 100000, count: 65536 }],
      gidMappings: [{ insideId: 0, outsideId: 100000, count: 65536 }],
      user: { uid: 1000, gid: 1000, additionalGids: [10, 20] },
      hostname: 'web-1',
      loopbackUp: true,
      cgroup: {
        paths: ['/sys/fs/cgroup/memory/skiff/c1', '/sys/fs/cgroup/pids/skiff/c1'],
        oomEventsFile: '/sys/fs/cgroup/memory/skiff/c1/memory.oom_control',
      },
      stdio: { stdin: { kind: 'fd', fd: 4 }, stdout: { kind: 'fd', fd: 5 }, stderr: { kind: 'null' } },
      logPath: undefined,
    });
    const all = records(plan);
    expect(all.filter(([k]) => k === 'namespace').map(([, n]) => n)).toEqual(['pid', 'mount', 'uts', 'net', 'user']);
    expect(recordsOf(plan, 'uid-map')).toEqual([['0', '100000', '65536']]);
    expect(recordsOf(plan, 'user')).toEqual([['1000', '1000']]);
    expect(recordsOf(plan, 'groups')).toEqual([['10', '20']]);
    expect(recordsOf(plan, 'hostname')).toEqual([['web-1']]);
    expect(recordsOf(plan, 'loopback-up')).toEqual([[]]);
    expect(recordsOf(plan, 'cgroup')).toHaveLength(2);
    expect(recordsOf(plan, 'oom-events')).toEqual([['/sys/fs/cgroup/memory/skiff/c1/memory.oom_control']]);
    expect(recordsOf(plan, 'stdin')).toEqual([['fd', '4']]);
    expect(recordsOf(plan, 'stderr')).toEqual([['null']]);
  });

  it('writes the terminal and the attach socket of the state dir after the stdio', () => {
    const plan = minimalPlan({
      terminal: { rows: 30, cols: 100 },
      attach: { holdUntilStart: true, stdinOnce: true },
      stdio: { stdin: { kind: 'attach' }, stdout: { kind: 'log' }, stderr: { kind: 'log' } },
    });
    expect(records(plan).slice(-8)).toEqual([
      ['stdin', 'attach'],
      ['stdout', 'log'],
      ['stderr', 'log'],
      ['tty', '30', '100'],
      ['attach-socket', '/var/lib/skiff/containers/c1/attach.sock'],
      ['attach-hold'],
      ['stdin-once'],
      ['end'],
    ]);
  });

  it('writes no hold and no stdin-once for a plain attach socket', () => {
    const plan = minimalPlan({ attach: {} });
    expect(recordsOf(plan, 'attach-socket')).toEqual([['/var/lib/skiff/containers/c1/attach.sock']]);
    expect(recordsOf(plan, 'attach-hold')).toEqual([]);
    expect(recordsOf(plan, 'stdin-once')).toEqual([]);
    expect(recordsOf(plan, 'tty')).toEqual([]);
  });

  it('lets output go to attach clients alone, without a log', () => {
    const plan = minimalPlan({ logPath: undefined, attach: {} });
    expect(recordsOf(plan, 'log-path')).toEqual([]);
    expect(recordsOf(plan, 'stdout')).toEqual([['log']]);
  });

  describe('refuses a plan the shim could not carry out, naming the field', () => {
    const cases: [string, Partial<ShimPlan>, string][] = [
      [
        'a relative mount target',
        { mounts: [{ type: 'tmpfs', source: 'tmpfs', target: 'tmp' }] },
        'mounts[0].target must be an absolute path: tmp',
      ],
      [
        'a relative bind source',
        { mounts: [{ type: 'bind', source: 'data', target: '/data' }] },
        'mounts[0].source must be an absolute path',
      ],
      [
        'an unknown mount flag',
        { mounts: [{ type: 'tmpfs', source: 'x', target: '/x', flags: ['ro' as never] }] },
        'mounts[0].flags has unknown flag "ro"',
      ],
      ['no mount namespace', { namespaces: ['pid'] }, 'namespaces must include mount and pid'],
      [
        'a user namespace without maps',
        { namespaces: ['mount', 'pid', 'user'] },
        'a user namespace needs uidMappings and gidMappings',
      ],
      ['nothing to run', { args: [] }, 'args is empty'],
      ['an empty program name', { args: [''] }, 'args[0] is empty'],
      ['a NUL byte', { env: ['A=b\0c'] }, 'env[0] contains a NUL byte'],
      ['an env entry without =', { env: ['JUSTNAME'] }, 'env[0] is not KEY=value: JUSTNAME'],
      ['a relative cwd', { cwd: 'srv' }, 'cwd must be an absolute path'],
      [
        'a soft limit above the hard one',
        { rlimits: [{ type: 'nofile', soft: 10, hard: 5 }] },
        'rlimit nofile: soft limit 10 is above hard limit 5',
      ],
      ['an unknown rlimit', { rlimits: [{ type: 'files' as never, soft: 1, hard: 1 }] }, 'rlimits[0].type is unknown'],
      [
        'a comma in a layer path',
        { rootfs: { kind: 'overlay', target: '/r', upperDir: '/u', workDir: '/w', lowerDirs: ['/a,b'] } },
        'rootfs.lowerDirs[0] may not contain',
      ],
      ['a hostname without a uts namespace', { hostname: 'web' }, 'a hostname needs the uts namespace'],
      ['a log stream without a log path', { logPath: undefined }, 'logPath is not set'],
      [
        'an unknown capability',
        { capabilities: { ...processCapabilities([]), bounding: ['CAP_WIZARD' as never] } },
        'unknown capability: "CAP_WIZARD"',
      ],
      [
        'effective capabilities that are not permitted',
        { capabilities: { ...processCapabilities([]), effective: ['CAP_CHOWN'] } },
        'effective capabilities must be permitted',
      ],
      ['a negative uid', { user: { uid: -1, gid: 0 } }, 'user.uid must be an integer'],
      [
        'a log as stdin',
        { stdio: { stdin: { kind: 'log' } as never, stdout: { kind: 'log' }, stderr: { kind: 'log' } } },
        "stdio.stdin cannot be 'log'",
      ],
      [
        'stdin from attach without an attach socket',
        { stdio: { stdin: { kind: 'attach' }, stdout: { kind: 'log' }, stderr: { kind: 'log' } } },
        "stdio.stdin is 'attach' but attach is not set",
      ],
      [
        'attach as an output',
        {
          attach: {},
          stdio: { stdin: { kind: 'null' }, stdout: { kind: 'attach' } as never, stderr: { kind: 'log' } },
        },
        "only stdio.stdin can be 'attach'",
      ],
      [
        'a terminal whose output goes elsewhere than the shim',
        {
          terminal: { rows: 24, cols: 80 },
          stdio: { stdin: { kind: 'null' }, stdout: { kind: 'log' }, stderr: { kind: 'null' } },
        },
        "with a terminal, stdio.stdout and stdio.stderr must be 'log'",
      ],
      [
        'a terminal with stdin from a descriptor',
        {
          terminal: { rows: 24, cols: 80 },
          stdio: { stdin: { kind: 'fd', fd: 4 }, stdout: { kind: 'log' }, stderr: { kind: 'log' } },
        },
        "stdio.stdin 'null' or 'attach'",
      ],
      [
        'a terminal too large',
        { terminal: { rows: 70000, cols: 80 } },
        'terminal.rows must be an integer from 0 to 65535',
      ],
      ['stdinOnce without stdin', { attach: { stdinOnce: true } }, "attach.stdinOnce needs stdio.stdin 'attach'"],
      [
        'a negative fd',
        { stdio: { stdin: { kind: 'fd', fd: -1 }, stdout: { kind: 'null' }, stderr: { kind: 'null' } } },
        'stdio.stdin.fd must be an integer',
      ],
    ];
    it.each(cases)('refuses %s', (_name, overrides, message) => {
      expect(() => serialiseShimPlan(minimalPlan(overrides))).toThrow(message);
    });
  });
});

describe(serialiseShimExecPlan.name, () => {
  function execPlan(overrides: Partial<ShimExecPlan> = {}): ShimExecPlan {
    return {
      stateDir: '/var/lib/skiff/containers/c1/exec/e1',
      container: { pid: 4242, shimPid: 4240 },
      cgroup: { paths: ['/sys/fs/cgroup/memory/skiff/c1'] },
      capabilities: processCapabilities(DOCKER_DEFAULT_CAPABILITIES),
      user: { uid: 1000, gid: 1000 },
      cwd: '/srv',
      env: ['PATH=/usr/bin:/bin'],
      args: ['sh', '-c', 'exit 3'],
      noNewPrivileges: true,
      stdio: { stdin: { kind: 'attach' }, stdout: { kind: 'log' }, stderr: { kind: 'log' } },
      attach: { holdUntilStart: true, stdinOnce: true },
      ...overrides,
    };
  }

  it('writes the container to enter, then the process, and nothing that builds a container', () => {
    expect(serialiseShimExecPlan(execPlan()).toString()).toBe(
      [
        'skiff-shim-plan 1',
        'state-dir /var/lib/skiff/containers/c1/exec/e1',
        'exec-in 4242 4240',
        'cgroup /sys/fs/cgroup/memory/skiff/c1',
        'capabilities 0xa80425fb 0xa80425fb 0xa80425fb 0x0 0x0',
        'user 1000 1000',
        'groups',
        'cwd /srv',
        'env PATH=/usr/bin:/bin',
        'arg sh',
        'arg -c',
        'arg exit%203',
        'no-new-privileges',
        'stdin attach',
        'stdout log',
        'stderr log',
        'attach-socket /var/lib/skiff/containers/c1/exec/e1/attach.sock',
        'attach-hold',
        'stdin-once',
        'end',
        '',
      ].join('\n'),
    );
  });

  it('writes a terminal for `docker exec -t`', () => {
    const wire = serialiseShimExecPlan(execPlan({ terminal: { rows: 24, cols: 80 } }));
    expect(parseShimRecords(wire)).toContainEqual(['tty', '24', '80']);
  });

  it.each([
    ['a container pid of 0', { container: { pid: 0, shimPid: 1 } }, 'container.pid must be an integer from 1'],
    ['no shim pid', { container: { pid: 5, shimPid: Number.NaN } }, 'container.shimPid must be an integer'],
    [
      'output to no log and no attach',
      {
        attach: undefined,
        stdio: {
          stdin: { kind: 'null' as const },
          stdout: { kind: 'log' as const },
          stderr: { kind: 'null' as const },
        },
      },
      'logPath is not set',
    ],
    ['nothing to run', { args: [] }, 'args is empty'],
  ])('refuses %s', (_name, overrides, message) => {
    expect(() => serialiseShimExecPlan(execPlan(overrides))).toThrow(message);
  });
});

describe(escapeField.name, () => {
  it('is undone by unescapeField for every byte value that may appear', () => {
    const all = Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1)).join('');
    expect(unescapeField(escapeField(all))).toBe(all);
    expect(escapeField(all)).toMatch(/^[!-~]+$/);
  });
});
