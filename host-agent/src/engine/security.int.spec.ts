import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEngine } from '../../../test/support/test-engine.js';

const run = promisify(execFile);

/** `grep` of /proc/self/status lines, e.g. {Seccomp: '2', NoNewPrivs: '0'}. */
function status(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => /^(\w+):\s+(.*)$/.exec(line))
      .filter((match) => match !== null)
      .map((match) => [match[1], match[2]]),
  );
}

const SHOW_STATUS = ['grep', '-E', '^(Seccomp|NoNewPrivs):', '/proc/self/status'];

/** --security-opt seccomp, no-new-privileges and --privileged, with real containers and the real docker CLI. */
describe('container security options', () => {
  let fixture: TestEngine;
  const docker = (...args: string[]) => fixture.docker(...args);
  let profiles: string;

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true });
    profiles = join(fixture.root, 'profiles');
    await mkdir(profiles);
    await writeFile(
      join(profiles, 'no-mkdir.json'),
      JSON.stringify(
        {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
        },
        null,
        2,
      ),
    );
    await writeFile(join(profiles, 'bad-action.json'), '{"defaultAction": "SCMP_ACT_NOPE"}');
  });
  afterAll(() => fixture?.close());

  it("filters a default container with Docker's profile: Seccomp 2, no_new_privs off", async () => {
    expect(status(await docker('run', '--rm', 'busybox', ...SHOW_STATUS))).toEqual({ Seccomp: '2', NoNewPrivs: '0' });
  });

  it('leaves no trace of the CAP_SYS_ADMIN the shim holds to load the filter: execve drops it', async () => {
    const caps = ['grep', '-E', '^Cap(Inh|Prm|Eff|Bnd|Amb):', '/proc/self/status'];
    // Docker's 14 default capabilities are 0xa80425fb.
    expect(status(await docker('run', '--rm', 'busybox', ...caps))).toEqual({
      CapInh: '0000000000000000',
      CapPrm: '00000000a80425fb',
      CapEff: '00000000a80425fb',
      CapBnd: '00000000a80425fb',
      CapAmb: '0000000000000000',
    });
    expect(status(await docker('run', '--rm', '--user', 'nobody', 'busybox', ...caps))).toMatchObject({
      CapPrm: '0000000000000000',
      CapEff: '0000000000000000',
    });
    await docker('run', '-d', '--name', 'capped', 'busybox', 'sleep', '60');
    expect(status(await docker('exec', 'capped', ...caps)).CapEff).toBe('00000000a80425fb');
    expect(status(await docker('exec', '--user', 'nobody', 'capped', ...caps)).CapEff).toBe('0000000000000000');
    await docker('rm', '-f', 'capped');
  });

  it('refuses unshare and mount with EPERM, which the default capabilities alone would not stop', async () => {
    // A user namespace needs no capability: only the filter refuses it.
    const refused = await fixture.dockerAll('run', '--rm', 'busybox', 'unshare', '-U', 'true');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/unshare.*Operation not permitted/);
    // CAP_SYS_ADMIN lets a container mount, and the profile then allows mount too (includes caps).
    const mounted = await docker(
      'run',
      '--rm',
      '--cap-add',
      'SYS_ADMIN',
      'busybox',
      'sh',
      '-c',
      'mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted',
    );
    expect(mounted).toBe('mounted');
    const swapon = await fixture.dockerAll('run', '--rm', 'busybox', 'swapon', '/dev/null');
    expect(swapon.stderr).toMatch(/Operation not permitted/);
  });

  it('leaves ordinary work alone: files, pipes, processes and sleep', async () => {
    const out = await docker(
      'run',
      '--rm',
      'busybox',
      'sh',
      '-c',
      'mkdir -p /tmp/a/b && echo hi > /tmp/a/b/f && cat /tmp/a/b/f && ls /tmp/a | wc -l && ' +
        '(sleep 0.1; echo child) & wait; chmod 600 /tmp/a/b/f && rm -r /tmp/a && echo done',
    );
    expect(out).toBe('hi\n1\nchild\ndone');
  });

  it("applies a profile file given to the docker CLI: mkdir fails with the profile's errno, the rest works", async () => {
    const profile = join(profiles, 'no-mkdir.json');
    const result = await fixture.dockerAll(
      'run',
      '--rm',
      '--security-opt',
      `seccomp=${profile}`,
      'busybox',
      'sh',
      '-c',
      'mkdir /tmp/x; echo file > /tmp/y && cat /tmp/y && grep ^Seccomp: /proc/self/status',
    );
    expect(result.stderr).toMatch(/mkdir: can't create directory '\/tmp\/x': Permission denied/);
    expect(result.stdout.trim().split('\n')).toEqual(['file', 'Seccomp:\t2']);
    expect(result.code).toBe(0);
  });

  it('shows SecurityOpt in inspect as the client sent it, the profile inlined by the CLI', async () => {
    await docker(
      'create',
      '--name',
      'inspected',
      '--security-opt',
      `seccomp=${join(profiles, 'no-mkdir.json')}`,
      'busybox',
    );
    const options = JSON.parse(
      await docker('inspect', '-f', '{{json .HostConfig.SecurityOpt}}', 'inspected'),
    ) as string[];
    expect(options).toEqual([
      'seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}',
    ]);
    await docker('rm', 'inspected');
  });

  it('runs without a filter with seccomp=unconfined, where unshare then works', async () => {
    expect(
      status(await docker('run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', ...SHOW_STATUS)),
    ).toEqual({
      Seccomp: '0',
      NoNewPrivs: '0',
    });
    expect(
      await docker(
        'run',
        '--rm',
        '--security-opt',
        'seccomp=unconfined',
        'busybox',
        'unshare',
        '-U',
        'echo',
        'unshared',
      ),
    ).toBe('unshared');
  });

  it('runs a --privileged container unconfined, as Docker does', async () => {
    expect(status(await docker('run', '--rm', '--privileged', 'busybox', ...SHOW_STATUS)).Seccomp).toBe('0');
  });

  it("gives docker exec the container's filter, also with exec --privileged", async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'filtered',
      '--security-opt',
      `seccomp=${join(profiles, 'no-mkdir.json')}`,
      'busybox',
      'sleep',
      '60',
    );
    expect(status(await docker('exec', 'filtered', ...SHOW_STATUS)).Seccomp).toBe('2');
    const mkdir = await fixture.dockerAll('exec', 'filtered', 'mkdir', '/tmp/in-exec');
    expect(mkdir.code).toBe(1);
    expect(mkdir.stderr).toMatch(/Permission denied/);
    expect(status(await docker('exec', '--privileged', 'filtered', ...SHOW_STATUS)).Seccomp).toBe('2');
    await docker('rm', '-f', 'filtered');

    await docker('run', '-d', '--name', 'defaulted', 'busybox', 'sleep', '60');
    const unshare = await fixture.dockerAll('exec', 'defaulted', 'unshare', '-U', 'true');
    expect(unshare.stderr).toMatch(/Operation not permitted/);
    await docker('rm', '-f', 'defaulted');
  });

  it('refuses a malformed profile at create with a 400 that names the problem', async () => {
    const cli = await fixture.dockerAll(
      'run',
      '--rm',
      '--security-opt',
      `seccomp=${join(profiles, 'bad-action.json')}`,
      'busybox',
      'true',
    );
    expect(cli.code).toBe(125);
    expect(cli.stderr).toContain('invalid seccomp profile: defaultAction: unknown action "SCMP_ACT_NOPE"');

    const api = await post(fixture.engine.socketPath, '/v1.41/containers/create', {
      Image: 'busybox',
      HostConfig: {
        SecurityOpt: [
          'seccomp={"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}',
        ],
      },
    });
    expect(api.status).toBe(400);
    expect(api.body).toContain(
      'invalid seccomp profile: syscalls[0].args[0].index: must be an argument index from 0 to 5',
    );

    const path = await post(fixture.engine.socketPath, '/v1.41/containers/create', {
      Image: 'busybox',
      HostConfig: { SecurityOpt: ['seccomp=/etc/profile.json'] },
    });
    expect(path.status).toBe(400);
    expect(path.body).toContain("expected builtin, unconfined or a profile's JSON");
    expect(await docker('ps', '-aq')).toBe('');
  });

  it('sets no_new_privs with --security-opt no-new-privileges (and =true, :true), not with =false', async () => {
    for (const option of ['no-new-privileges', 'no-new-privileges=true', 'no-new-privileges:true']) {
      expect(status(await docker('run', '--rm', '--security-opt', option, 'busybox', ...SHOW_STATUS)), option).toEqual({
        Seccomp: '2',
        NoNewPrivs: '1',
      });
    }
    expect(
      status(await docker('run', '--rm', '--security-opt', 'no-new-privileges=false', 'busybox', ...SHOW_STATUS))
        .NoNewPrivs,
    ).toBe('0');
  });

  it('keeps a setuid-root program from gaining root under no-new-privileges, in the container and in exec', async () => {
    // busybox drops its setuid privileges by itself, so the probe is a tiny C program.
    const dir = join(fixture.root, 'suid');
    await mkdir(dir);
    await chmod(fixture.root, 0o755);
    await writeFile(
      join(dir, 'euid.c'),
      '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("euid=%d\\n", (int)geteuid()); return 0; }\n',
    );
    await run(process.env.CC ?? 'cc', ['-static', '-O', '-o', join(dir, 'euid'), join(dir, 'euid.c')]);
    await chmod(join(dir, 'euid'), 0o4755);
    const probe = ['--user', 'nobody', '-v', `${dir}:/probe:ro`, 'busybox'];

    expect(await docker('run', '--rm', ...probe, '/probe/euid')).toBe('euid=0');
    expect(await docker('run', '--rm', '--security-opt', 'no-new-privileges', ...probe, '/probe/euid')).toBe(
      'euid=65534',
    );

    await docker('run', '-d', '--name', 'nnp', '--security-opt', 'no-new-privileges', ...probe, 'sleep', '60');
    expect(await docker('exec', 'nnp', '/probe/euid')).toBe('euid=65534');
    expect(status(await docker('exec', 'nnp', ...SHOW_STATUS))).toEqual({ Seccomp: '2', NoNewPrivs: '1' });
    await docker('rm', '-f', 'nnp');
  });

  it('lists the builtin seccomp profile in docker info', async () => {
    expect(JSON.parse(await docker('info', '--format', '{{json .SecurityOptions}}'))).toContain(
      'name=seccomp,profile=builtin',
    );
  });
});

function post(socketPath: string, path: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
