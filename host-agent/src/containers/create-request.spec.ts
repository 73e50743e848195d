import { describe, expect, it } from 'vitest';
import { parseBind, parseCreateRequest, parseSecurityOptions, parseSize, parseTmpfs } from './create-request.js';

/** What docker CLI 28.x sends for `docker run --rm busybox echo hi` (trimmed). */
const cliBody = {
  Hostname: '',
  User: '',
  AttachStdout: true,
  AttachStderr: true,
  Tty: false,
  Env: null,
  Cmd: ['echo', 'hi'],
  Image: 'busybox',
  Volumes: {},
  Entrypoint: null,
  Labels: {},
  HostConfig: {
    Binds: null,
    NetworkMode: 'default',
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: true,
    ConsoleSize: [0, 0],
    Memory: 0,
    PidsLimit: 0,
    Devices: [],
    Ulimits: [],
    BlkioDeviceReadBps: [],
    MaskedPaths: null,
  },
  NetworkingConfig: { EndpointsConfig: { default: { GwPriority: 0, DNSNames: null } } },
};

describe('parseCreateRequest', () => {
  it('reads what the docker CLI sends, ignoring fields it does not know', () => {
    const request = parseCreateRequest(cliBody);
    expect(request).toMatchObject({
      image: 'busybox',
      cmd: ['echo', 'hi'],
      entrypoint: null,
      attachStdout: true,
      host: { autoRemove: true, networkMode: 'default', consoleSize: null, restartPolicy: { name: 'no' } },
    });
    expect(request.host.mounts).toEqual([]);
  });

  it('requires an image', () => {
    expect(() => parseCreateRequest({ Cmd: ['true'] })).toThrow(/Image is required/);
  });

  it('names the field of the wrong type', () => {
    expect(() => parseCreateRequest({ ...cliBody, Tty: 'yes' })).toThrow('Tty must be true or false');
    expect(() => parseCreateRequest({ ...cliBody, Cmd: ['echo', 1] })).toThrow('Cmd[1] must be a string');
    expect(() => parseCreateRequest({ ...cliBody, HostConfig: { Memory: '32m' } })).toThrow(
      'HostConfig.Memory must be an integer',
    );
    expect(() => parseCreateRequest([])).toThrow('the request body must be a JSON object');
  });

  it('collects binds, volumes, --mount and --tmpfs into one list of mounts', () => {
    const request = parseCreateRequest({
      ...cliBody,
      HostConfig: {
        Binds: ['/srv/www:/www:ro', 'data:/data'],
        Mounts: [{ Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1048576 } }],
        Tmpfs: { '/t': 'size=1m,mode=1777' },
      },
    });
    expect(request.host.mounts).toEqual([
      {
        type: 'bind',
        source: '/srv/www',
        target: '/www',
        readOnly: true,
        propagation: undefined,
        createHostPath: true,
      },
      { type: 'volume', name: 'data', target: '/data', readOnly: false, noCopy: false },
      { type: 'tmpfs', target: '/scratch', options: [], sizeBytes: 1048576, mode: undefined },
      { type: 'tmpfs', target: '/t', options: [], sizeBytes: 1048576, mode: 0o1777 },
    ]);
  });

  it('refuses two mounts on one container path', () => {
    expect(() => parseCreateRequest({ ...cliBody, HostConfig: { Binds: ['ab:/data', '/x:/data/'] } })).toThrow(
      'duplicate mount point: /data',
    );
  });

  it('refuses a bind source that is not absolute through --mount, which also refuses missing sources', () => {
    expect(() =>
      parseCreateRequest({ ...cliBody, HostConfig: { Mounts: [{ Type: 'bind', Source: 'rel', Target: '/x' }] } }),
    ).toThrow(/absolute host path/);
    const request = parseCreateRequest({
      ...cliBody,
      HostConfig: { Mounts: [{ Type: 'bind', Source: '/srv', Target: '/x' }] },
    });
    expect(request.host.mounts[0]).toMatchObject({ type: 'bind', createHostPath: false });
  });

  it('keeps the resource fields as the Engine API names them', () => {
    const request = parseCreateRequest({
      ...cliBody,
      HostConfig: { Memory: 33554432, NanoCpus: 500000000, PidsLimit: 20, CpusetCpus: '0' },
    });
    expect(request.host.resources).toEqual({ Memory: 33554432, NanoCpus: 500000000, PidsLimit: 20, CpusetCpus: '0' });
  });

  it('accepts only the four restart policies, with a retry count only for on-failure', () => {
    expect(
      parseCreateRequest({ ...cliBody, HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } } })
        .host.restartPolicy,
    ).toEqual({
      name: 'on-failure',
      maximumRetryCount: 3,
    });
    expect(() => parseCreateRequest({ ...cliBody, HostConfig: { RestartPolicy: { Name: 'sometimes' } } })).toThrow(
      /unknown restart policy/,
    );
    expect(() =>
      parseCreateRequest({ ...cliBody, HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } } }),
    ).toThrow(/only to the on-failure/);
  });

  it('takes UsernsMode host or empty, as dockerd does, and refuses any other', () => {
    expect(parseCreateRequest(cliBody).host.usernsMode).toBe('');
    expect(parseCreateRequest({ ...cliBody, HostConfig: { UsernsMode: 'host' } }).host.usernsMode).toBe('host');
    expect(() => parseCreateRequest({ ...cliBody, HostConfig: { UsernsMode: 'private' } })).toThrow(
      'invalid HostConfig.UsernsMode "private": use host (--userns=host) or leave it empty',
    );
  });

  it('refuses a relative working directory and a container path with ".."', () => {
    expect(() => parseCreateRequest({ ...cliBody, WorkingDir: 'app' })).toThrow(/absolute path/);
    expect(() => parseCreateRequest({ ...cliBody, Volumes: { '/a/../../etc': {} } })).toThrow(/must not contain/);
  });
});

describe('parseBind', () => {
  it('makes a bind mount of an absolute source and a volume of a name', () => {
    expect(parseBind('/host:/ctr')).toMatchObject({ type: 'bind', source: '/host', target: '/ctr', readOnly: false });
    expect(parseBind('cache:/ctr:ro,nocopy')).toMatchObject({
      type: 'volume',
      name: 'cache',
      readOnly: true,
      noCopy: true,
    });
    expect(parseBind('/host:/ctr:rshared')).toMatchObject({ propagation: 'rshared' });
  });

  it.each([
    ['/only-one-part', /expected SOURCE:TARGET/],
    ['/a:relative', /must be absolute/],
    ['/a:/b:rx', /invalid mode "rx"/],
    ['bad name!:/b', /not a valid volume name/],
    ['vol:/b:rshared', /applies to bind mounts/],
  ])('refuses %s', (spec, message) => {
    expect(() => parseBind(spec)).toThrow(message);
  });
});

describe('parseTmpfs', () => {
  it('reads size and mode and keeps other mount options', () => {
    expect(parseTmpfs('/t', 'size=64k,mode=700,noexec')).toEqual({
      type: 'tmpfs',
      target: '/t',
      options: ['noexec'],
      sizeBytes: 65536,
      mode: 0o700,
    });
  });

  it('refuses an unknown option', () => {
    expect(() => parseTmpfs('/t', 'size=1m,bogus')).toThrow(/unknown option "bogus"/);
  });
});

describe('parseSize', () => {
  it.each([
    ['1048576', 1048576],
    ['64k', 65536],
    ['1m', 1048576],
    ['2G', 2 * 1024 ** 3],
    ['10mb', 10 * 1024 ** 2],
  ])('reads %s', (input, bytes) => {
    expect(parseSize(input, 'x')).toBe(bytes);
  });

  it('refuses a size it cannot read', () => {
    expect(() => parseSize('lots', 'tmpfs /t')).toThrow('tmpfs /t: size must be a number');
  });
});

describe(parseSecurityOptions.name, () => {
  it('defaults to the builtin seccomp profile and privileges that execve may raise', () => {
    expect(parseSecurityOptions([])).toEqual({ noNewPrivileges: false, seccomp: { kind: 'builtin' } });
  });

  it("reads no-new-privileges alone, with '=' or the old ':', and Go's booleans", () => {
    for (const option of [
      'no-new-privileges',
      'no-new-privileges=true',
      'no-new-privileges:true',
      'no-new-privileges=1',
    ]) {
      expect(parseSecurityOptions([option]).noNewPrivileges, option).toBe(true);
    }
    expect(parseSecurityOptions(['no-new-privileges=false']).noNewPrivileges).toBe(false);
    expect(() => parseSecurityOptions(['no-new-privileges=yes'])).toThrow(
      'invalid --security-opt "no-new-privileges=yes": no-new-privileges takes true or false',
    );
  });

  it('reads seccomp=unconfined, seccomp=builtin and a profile the docker CLI inlined as JSON', () => {
    expect(parseSecurityOptions(['seccomp=unconfined']).seccomp).toEqual({ kind: 'unconfined' });
    expect(parseSecurityOptions(['seccomp:unconfined']).seccomp).toEqual({ kind: 'unconfined' });
    expect(parseSecurityOptions(['seccomp=builtin']).seccomp).toEqual({ kind: 'builtin' });
    const choice = parseSecurityOptions([
      'seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}',
    ]).seccomp;
    expect(choice.kind === 'profile' && choice.profile?.syscalls[0]?.names).toEqual(['mkdir']);
  });

  it('accepts label and apparmor options, which have no effect without SELinux or AppArmor', () => {
    expect(parseSecurityOptions(['label=disable', 'apparmor=unconfined', 'label:type:svirt_t'])).toEqual({
      noNewPrivileges: false,
      seccomp: { kind: 'builtin' },
    });
  });

  it('refuses a file name (the CLI would have sent its content) and an unknown option', () => {
    expect(() => parseSecurityOptions(['seccomp=/etc/profile.json'])).toThrow(
      /invalid --security-opt seccomp=\/etc\/profile.json: expected builtin, unconfined or a profile's JSON/,
    );
    expect(() => parseSecurityOptions(['selinux=off'])).toThrow(
      'invalid --security-opt "selinux=off": unknown option "selinux" (one of seccomp, no-new-privileges, apparmor, label)',
    );
    expect(() => parseSecurityOptions(['nonsense'])).toThrow('invalid --security-opt "nonsense": expected key=value');
  });

  it('refuses a bad profile at create, naming the field', () => {
    expect(() =>
      parseCreateRequest({
        Image: 'busybox',
        HostConfig: {
          SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["kill"],"action":"NOPE"}]}'],
        },
      }),
    ).toThrow('invalid seccomp profile: syscalls[0].action: unknown action "NOPE"');
  });
});
