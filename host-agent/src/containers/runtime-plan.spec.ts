import { describe, expect, it } from 'vitest';
import { parseCreateRequest } from './create-request.js';
import { buildShimPlan, type RuntimePlanInput } from './runtime-plan.js';
import { IdMap } from '../userns/id-map.js';

const input = (body: Record<string, unknown>, extra: Partial<RuntimePlanInput> = {}): RuntimePlanInput => ({
  request: parseCreateRequest({ Image: 'busybox', Cmd: ['true'], ...body }),
  hostname: 'c0ffee000000',
  args: ['true'],
  env: ['PATH=/bin'],
  cwd: '/',
  user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
  rootfs: { kind: 'overlay', target: '/r/rootfs', lowerDirs: ['/l/1'], upperDir: '/c/upper', workDir: '/c/work' },
  mounts: [],
  devices: [],
  cgroupView: { version: 'none' },
  stateDir: '/c',
  logPath: '/c/log.json',
  ...extra,
});

describe('buildShimPlan', () => {
  it("gives a default container its own namespaces, Docker's 14 capabilities and masked paths", () => {
    const plan = buildShimPlan(input({}));
    expect(plan.namespaces).toEqual(['mount', 'pid', 'uts', 'ipc', 'cgroup', 'net']);
    expect(plan.loopbackUp).toBe(true);
    expect(plan.capabilities.effective).toHaveLength(14);
    expect(plan.capabilities.effective).not.toContain('CAP_SYS_ADMIN');
    expect(plan.maskedPaths).toContain('/proc/kcore');
    expect(plan.readonlyPaths).toContain('/proc/sysrq-trigger');
    expect(plan.hostname).toBe('c0ffee000000');
    expect(plan.noNewPrivileges).toBe(false);
  });

  it('shares the host network and hostname with --network host', () => {
    const plan = buildShimPlan(input({ HostConfig: { NetworkMode: 'host' } }));
    expect(plan.namespaces).not.toContain('net');
    expect(plan.hostname).toBeUndefined();
  });

  it('gives the container a user namespace with the engine’s id ranges when it remaps', () => {
    const ids = new IdMap(
      [{ insideId: 0, outsideId: 100000, count: 65536 }],
      [{ insideId: 0, outsideId: 200000, count: 65536 }],
    );
    const plan = buildShimPlan(input({}, { ids }));
    expect(plan.namespaces).toContain('user');
    expect(plan.uidMappings).toEqual([{ insideId: 0, outsideId: 100000, count: 65536 }]);
    expect(plan.gidMappings).toEqual([{ insideId: 0, outsideId: 200000, count: 65536 }]);
    expect(buildShimPlan(input({})).uidMappings).toBeUndefined();
  });

  it('refuses a user network when the engine has no bridge networks', () => {
    expect(() => buildShimPlan(input({ HostConfig: { NetworkMode: 'backend' } }))).toThrow(/not supported yet/);
  });

  it("joins another container's network namespace for container:<id>, with no namespace or loopback of its own", () => {
    const plan = buildShimPlan(
      input(
        { HostConfig: { NetworkMode: 'container:web' } },
        { joinNetwork: '/proc/42/ns/net', networksManaged: true },
      ),
    );
    expect(plan.namespaces).not.toContain('net');
    expect(plan.joinNamespaces).toEqual([{ kind: 'net', path: '/proc/42/ns/net' }]);
    expect(plan.loopbackUp).toBe(false);
    expect(() => buildShimPlan(input({ HostConfig: { NetworkMode: 'container:web' } }))).toThrow(/namespace/);
  });

  it('gives a container on a user network a namespace of its own, wired by the agent', () => {
    const plan = buildShimPlan(input({ HostConfig: { NetworkMode: 'backend' } }, { networksManaged: true }));
    expect(plan.namespaces).toContain('net');
    expect(plan.loopbackUp).toBe(true);
  });

  it('applies --cap-add, --cap-drop and --privileged', () => {
    const added = buildShimPlan(input({ HostConfig: { CapAdd: ['NET_ADMIN'], CapDrop: ['CHOWN'] } }));
    expect(added.capabilities.effective).toContain('CAP_NET_ADMIN');
    expect(added.capabilities.effective).not.toContain('CAP_CHOWN');
    const privileged = buildShimPlan(input({ HostConfig: { Privileged: true } }));
    expect(privileged.capabilities.effective).toContain('CAP_SYS_ADMIN');
    expect(privileged.maskedPaths).toEqual([]);
  });

  it("mounts binds read-only when asked, parents before children, after Docker's own mounts", () => {
    const plan = buildShimPlan(
      input(
        {},
        {
          mounts: [
            { kind: 'bind', source: '/v/cache', target: '/data/cache', readOnly: false },
            { kind: 'bind', source: '/srv', target: '/data', readOnly: true },
          ],
        },
      ),
    );
    const user = plan.mounts.slice(-2);
    expect(user).toEqual([
      { type: 'bind', source: '/srv', target: '/data', flags: ['rec', 'rdonly'], propagation: 'rprivate' },
      { type: 'bind', source: '/v/cache', target: '/data/cache', flags: ['rec'], propagation: 'rprivate' },
    ]);
    expect(plan.mounts[0]).toMatchObject({ type: 'proc', target: '/proc' });
  });

  it('mounts a tmpfs noexec, nosuid and nodev unless told otherwise', () => {
    const plan = buildShimPlan(
      input({}, { mounts: [{ kind: 'tmpfs', target: '/t', readOnly: false, data: 'size=1024k', flags: ['exec'] }] }),
    );
    expect(plan.mounts.at(-1)).toEqual({
      type: 'tmpfs',
      source: 'tmpfs',
      target: '/t',
      flags: ['nosuid', 'nodev'],
      data: 'size=1024k',
    });
  });

  it('sets no_new_privs for --security-opt no-new-privileges and rlimits from --ulimit', () => {
    const plan = buildShimPlan(
      input({
        HostConfig: { SecurityOpt: ['no-new-privileges'], Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }] },
      }),
    );
    expect(plan.noNewPrivileges).toBe(true);
    expect(plan.rlimits).toEqual([{ type: 'nofile', soft: 1024, hard: 2048 }]);
    expect(() => buildShimPlan(input({ HostConfig: { Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] } }))).toThrow(
      /unknown ulimit/,
    );
  });

  const amd64 = { host: { arch: 'x64', kernelRelease: '6.1.0' } };

  it("loads Docker's default seccomp profile unless --privileged or seccomp=unconfined", () => {
    const plan = buildShimPlan(input({}, amd64));
    expect(plan.seccomp?.instructions.length).toBeGreaterThan(100);
    expect(plan.seccomp?.flags).toBe(0);
    expect(buildShimPlan(input({ HostConfig: { Privileged: true } }, amd64)).seccomp).toBeUndefined();
    expect(
      buildShimPlan(input({ HostConfig: { SecurityOpt: ['seccomp=unconfined'] } }, amd64)).seccomp,
    ).toBeUndefined();
    expect(buildShimPlan(input({ HostConfig: { SecurityOpt: ['seccomp={}'] } }, amd64)).seccomp).toBeUndefined();
  });

  it('compiles the default profile for the capabilities the container has', () => {
    const plain = buildShimPlan(input({}, amd64)).seccomp!;
    const admin = buildShimPlan(input({ HostConfig: { CapAdd: ['SYS_ADMIN'] } }, amd64)).seccomp!;
    expect(admin.instructions).not.toEqual(plain.instructions);
  });

  it('compiles a profile sent with --security-opt seccomp=<json>, with its flags', () => {
    const profile = JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    });
    const plan = buildShimPlan(input({ HostConfig: { SecurityOpt: [`seccomp=${profile}`] } }, amd64));
    expect(plan.seccomp?.flags).toBe(2);
    expect(plan.seccomp?.instructions.length).toBeLessThan(30);
  });

  it('runs without the default profile on a host it cannot compile for, but refuses a profile asked for there', () => {
    const s390x = { host: { arch: 's390x', kernelRelease: '6.1.0' } };
    expect(buildShimPlan(input({}, s390x)).seccomp).toBeUndefined();
    const profile = 'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}';
    expect(() => buildShimPlan(input({ HostConfig: { SecurityOpt: [profile] } }, s390x))).toThrow(
      'seccomp profiles are not supported on s390x hosts yet',
    );
  });
});
