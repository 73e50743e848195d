import { describe, expect, it } from 'vitest';
import { parseCreateRequest } from './create-request.js';
import { buildShimPlan, type RuntimePlanInput } from './runtime-plan.js';

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

  it('refuses a network mode it does not have yet', () => {
    expect(() => buildShimPlan(input({ HostConfig: { NetworkMode: 'container:web' } }))).toThrow(/not supported yet/);
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
});
