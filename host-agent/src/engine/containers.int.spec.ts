import { execFile, spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEngine } from '../../../test/support/test-engine.js';

const run = promisify(execFile);

/** Containers as a user runs them: the real docker CLI against the engine's socket, on a busybox image. */
describe('containers through the docker CLI', () => {
  let fixture: TestEngine;
  let root: string;
  const env = () => fixture.env();
  const docker = (...args: string[]) => fixture.docker(...args);
  const dockerAll = (...args: string[]) => fixture.dockerAll(...args);

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true });
    root = fixture.root;
  });
  afterAll(() => fixture?.close());

  it('runs docker run --rm busybox echo hi and prints hi', async () => {
    expect(await docker('run', '--rm', 'busybox', 'echo', 'hi')).toBe('hi');
    expect(await docker('ps', '-aq')).toBe('');
  });

  it('passes the exit code and stderr of the container through', async () => {
    const result = await dockerAll('run', '--rm', 'busybox', 'sh', '-c', 'echo oops >&2; exit 3');
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('oops');
  });

  it('pipes stdin to a container run with -i', async () => {
    const child = spawn('docker', ['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], { env: env() });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdin.end('from stdin\n');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(output).toBe('from stdin\ndone\n');
  });

  it('gives docker run -t a terminal of the container', async () => {
    // `script` gives the CLI a pty of its own, as a person at a terminal would have.
    const { stdout } = await run(
      'script',
      ['-qec', 'stty rows 30 cols 100; docker run --rm -t busybox sh -c "tty; stty size"', '/dev/null'],
      {
        env: env(),
        timeout: 30_000,
      },
    );
    expect(stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(stdout).toContain('30 100');
  });

  it('gives docker run -it an interactive shell driven through a terminal', async () => {
    // A person at a terminal: `script` is the terminal, the pipe is the keyboard.
    const keyboard = "(sleep 1; printf 'echo hello-$((6*7))\\n'; sleep 1; printf 'exit 5\\n'; sleep 1)";
    const session = `${keyboard} | script -qec "stty rows 30 cols 100; docker run --rm -it busybox sh" /dev/null`;
    const result = await run('sh', ['-c', session], { env: env(), timeout: 30_000 }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: unknown) => error as { code: number; stdout: string },
    );
    expect(result.stdout).toContain('hello-42');
    expect(result.code).toBe(5);
  });

  it('runs detached, shows it in ps, follows its logs and stops it', async () => {
    const id = await docker(
      'run',
      '-d',
      '--name',
      'ticker',
      '--label',
      'team=web',
      'busybox',
      'sh',
      '-c',
      'trap "exit 0" TERM; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done',
    );
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await docker('ps', '--filter', 'label=team=web', '--format', '{{.Names}} {{.State}}')).toBe(
      'ticker running',
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await docker('logs', '--tail', '1', 'ticker')).toMatch(/^tick \d+$/);
    expect(await docker('inspect', '-f', '{{.State.Running}} {{.Config.Labels.team}}', 'ticker')).toBe('true web');
    const top = await docker('top', 'ticker');
    expect(top).toContain('sh -c');

    const follower = spawn('docker', ['logs', '-f', 'ticker'], { env: env() });
    let followed = '';
    follower.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString()));
    const followerExit = new Promise((resolve) => follower.on('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await docker('stop', 'ticker')).toBe('ticker');
    expect(await followerExit).toBe(0);
    expect(followed.split('\n').filter(Boolean).length).toBeGreaterThan(3);
    expect(await docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'ticker')).toBe('exited 0');
    expect(await docker('rm', 'ticker')).toBe('ticker');
  });

  it('pauses, unpauses, renames, kills and waits for a container', async () => {
    await docker('run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '60');
    await docker('pause', 'sleeper');
    expect(await docker('inspect', '-f', '{{.State.Status}}', 'sleeper')).toBe('paused');
    await docker('unpause', 'sleeper');
    await docker('rename', 'sleeper', 'napper');
    const waiting = docker('wait', 'napper');
    await docker('kill', 'napper');
    expect(await waiting).toBe('137');
    await docker('rm', 'napper');
  });

  it('refuses to remove a running container without -f, and removes it with -f', async () => {
    await docker('run', '-d', '--name', 'busy', 'busybox', 'sleep', '60');
    const refused = await dockerAll('rm', 'busy');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/stop it first, or force the removal/);
    await docker('rm', '-f', 'busy');
    expect(await docker('ps', '-aq')).toBe('');
  });

  it('ends a memory hog over -m 32m as OOMKilled', async () => {
    const result = await dockerAll(
      'run',
      '--name',
      'hog',
      '-m',
      '32m',
      'busybox',
      'dd',
      'if=/dev/zero',
      'of=/dev/null',
      'bs=64M',
      'count=1',
    );
    expect(result.code).toBe(137);
    expect(await docker('inspect', '-f', '{{.State.OOMKilled}}', 'hog')).toBe('true');
    await docker('rm', 'hog');
  });

  it('stops a fork bomb at --pids-limit 20', async () => {
    const result = await dockerAll(
      'run',
      '--rm',
      '--pids-limit',
      '20',
      'busybox',
      'sh',
      '-c',
      'for i in $(seq 1 50); do sleep 5 & done; wait',
    );
    expect(result.stderr).toMatch(/can't fork/);
  });

  it('keeps what one container writes to a named volume for the next', async () => {
    await docker('run', '--rm', '-v', 'shared:/data', 'busybox', 'sh', '-c', 'echo persisted > /data/file');
    expect(await docker('run', '--rm', '-v', 'shared:/data', 'busybox', 'cat', '/data/file')).toBe('persisted');
    expect(
      await docker('run', '--rm', '--mount', 'type=volume,source=shared,target=/d', 'busybox', 'cat', '/d/file'),
    ).toBe('persisted');
  });

  it('holds 1 MB and no more in --tmpfs /t:size=1m', async () => {
    const script =
      'dd if=/dev/zero of=/t/a bs=1024 count=1024 2>/dev/null && echo full; dd if=/dev/zero of=/t/b bs=1024 count=1 2>/dev/null || echo refused';
    expect(await docker('run', '--rm', '--tmpfs', '/t:size=1m', 'busybox', 'sh', '-c', script)).toBe('full\nrefused');
  });

  it('refuses writes through a :ro bind mount and allows them through a rw one', async () => {
    const dir = join(root, 'bind');
    await mkdir(dir);
    const result = await dockerAll(
      'run',
      '--rm',
      '-v',
      `${dir}:/ro:ro`,
      '-v',
      `${dir}:/rw`,
      'busybox',
      'sh',
      '-c',
      'touch /ro/x; echo written > /rw/y',
    );
    expect(result.stderr).toMatch(/Read-only file system/);
    expect(await readFile(join(dir, 'y'), 'utf8')).toBe('written\n');
  });

  it('refuses a --mount bind whose source is missing, and creates a missing -v source', async () => {
    const missing = await dockerAll(
      'run',
      '--rm',
      '--mount',
      `type=bind,source=${join(root, 'nope')},target=/x`,
      'busybox',
      'true',
    );
    expect(missing.stderr).toMatch(/bind source path does not exist/);
    await docker('run', '--rm', '-v', `${join(root, 'made')}:/x`, 'busybox', 'true');
    await expect(readFile(join(root, 'made'))).rejects.toThrow(/EISDIR/);
  });

  it('shows what a container changed with docker diff and exports its filesystem', async () => {
    await docker('run', '--name', 'changer', 'busybox', 'sh', '-c', 'echo a > /new; rm /etc/group');
    const diff = (await docker('diff', 'changer')).split('\n');
    expect(diff).toEqual(expect.arrayContaining(['A /new', 'D /etc/group']));
    expect(diff).not.toContain('A /proc');
    const archive = join(root, 'export.tar');
    await docker('export', '--output', archive, 'changer');
    const { stdout } = await run('tar', ['-tf', archive]);
    expect(stdout).toContain('new');
    expect(stdout).not.toMatch(/^etc\/group$/m);
    await docker('rm', 'changer');
  });

  it('runs docker exec with output, exit code, user, env and working directory', async () => {
    await docker('run', '-d', '--name', 'target', '--hostname', 'target-host', 'busybox', 'sleep', '60');
    expect(await docker('exec', 'target', 'sh', '-c', 'echo out; echo err >&2; hostname')).toBe('out\ntarget-host');
    const failed = await dockerAll('exec', 'target', 'sh', '-c', 'exit 3');
    expect(failed.code).toBe(3);
    expect(
      await docker(
        'exec',
        '-u',
        '1000',
        '-e',
        'FOO=bar',
        '-w',
        '/tmp',
        'target',
        'sh',
        '-c',
        'echo $(id -u) $FOO $(pwd)',
      ),
    ).toBe('1000 bar /tmp');
    const child = spawn('docker', ['exec', '-i', 'target', 'cat'], { env: env() });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdin.end('piped\n');
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
    expect(output).toBe('piped\n');
  });

  it('gives docker exec -it a terminal of the container with the size of the client', async () => {
    // As in Docker's own recording, the size arrives by a resize just after the start.
    const { stdout } = await run(
      'script',
      ['-qec', 'stty rows 30 cols 100; docker exec -it target sh -c "sleep 0.5; tty; stty size"', '/dev/null'],
      { env: env(), timeout: 30_000 },
    );
    expect(stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(stdout).toContain('30 100');
  });

  it('reports the memory and CPU of a running container with docker stats --no-stream', async () => {
    const line = await docker('stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', 'target');
    expect(line).toMatch(/^target \d+(\.\d+)?[KMG]i?B \/ .+ 1$/);
  });

  it('refuses docker exec in a stopped container', async () => {
    await docker('stop', '-t', '0', 'target');
    const refused = await dockerAll('exec', 'target', 'true');
    expect(refused.stderr).toMatch(/is not running/);
    await docker('rm', 'target');
  });

  it('filters docker ps by id, name, status, exited code and ancestor', async () => {
    const ok = await docker('run', '--name', 'ended-ok', 'busybox', 'true');
    expect(ok).toBe('');
    await dockerAll('run', '--name', 'ended-bad', 'busybox', 'sh', '-c', 'exit 2');
    const badId = await docker('inspect', '-f', '{{.Id}}', 'ended-bad');
    const names = async (...filters: string[]) =>
      (await docker('ps', '-a', '--format', '{{.Names}}', ...filters.flatMap((filter) => ['--filter', filter])))
        .split('\n')
        .filter(Boolean)
        .sort();
    expect(await names('status=exited')).toEqual(['ended-bad', 'ended-ok']);
    expect(await names('exited=2')).toEqual(['ended-bad']);
    expect(await names(`id=${badId.slice(0, 12)}`)).toEqual(['ended-bad']);
    expect(await names('name=ended-o')).toEqual(['ended-ok']);
    expect(await names('ancestor=busybox', 'exited=0')).toEqual(['ended-ok']);
    expect((await dockerAll('ps', '--filter', 'status=sleeping')).stderr).toMatch(/invalid filter/);
    await docker('rm', 'ended-ok', 'ended-bad');
  });

  it('shows logs with timestamps, since and until', async () => {
    await docker('run', '--name', 'stamped', 'busybox', 'sh', '-c', 'echo first; sleep 1.2; echo second');
    const stamped = await docker('logs', '--timestamps', 'stamped');
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z first\n\S+ second$/);
    const secondAt = stamped.split('\n')[1].split(' ')[0];
    expect(await docker('logs', '--since', secondAt, 'stamped')).toBe('second');
    expect(await docker('logs', '--until', secondAt, 'stamped')).toBe('first');
    await docker('rm', 'stamped');
  });

  it('publishes container events that docker events shows', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await docker('run', '--rm', '--name', 'eventful', 'busybox', 'true');
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const events = await docker(
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'container=eventful',
      '--format',
      '{{.Type}} {{.Action}}',
    );
    expect(events.split('\n')).toEqual(['container create', 'container start', 'container die', 'container destroy']);
  });

  it('answers a missing image with No such image, and a pull that cannot reach Docker Hub says why', async () => {
    const result = await dockerAll('create', '--pull', 'never', 'nothere:1');
    expect(result).toMatchObject({ code: 1, stderr: expect.stringMatching(/No such image: nothere:1/i) });
    // By default the CLI then pulls; this machine has no route to Docker Hub.
    const pulled = await dockerAll('create', 'nothere:1');
    expect(pulled.code).not.toBe(0);
    expect(pulled.stderr).toMatch(/Unable to find image 'nothere:1' locally/);
    expect(pulled.stderr).toMatch(/registry-1\.docker\.io.*(does not resolve|cannot be reached|nothing listens)/s);
  });

  describe('inside a default container', () => {
    const inside = (script: string) => dockerAll('run', '--rm', 'busybox', 'sh', '-c', script);

    it('cannot mount, write /proc/sys or /sys, or change the hostname', async () => {
      expect((await inside('mkdir -p /mnt && mount -t tmpfs none /mnt')).stderr).toMatch(
        /Operation not permitted|permission denied/i,
      );
      expect((await inside('echo 1 > /proc/sys/kernel/panic')).code).not.toBe(0);
      expect((await inside('touch /sys/kernel/x')).code).not.toBe(0);
      expect((await inside('hostname changed')).code).not.toBe(0);
      expect(hostname()).not.toBe('changed');
    });

    it('cannot write /proc/sysrq-trigger or read /proc/kcore where the kernel has them', async () => {
      const result = await inside(
        'echo h > /proc/sysrq-trigger 2>/dev/null && echo wrote; head -c 1 /proc/kcore 2>/dev/null | wc -c',
      );
      expect(result.stdout).not.toContain('wrote');
      expect(result.stdout.trim().split('\n').at(-1)).toBe('0');
    });

    it('sees only its own processes', async () => {
      const result = await inside('ps -o pid,comm | wc -l');
      // The header, sh, ps and wc.
      expect(Number(result.stdout.trim())).toBeLessThanOrEqual(4);
    });

    it('has its own hostname and only the loopback interface with --network none', async () => {
      expect(await docker('run', '--rm', '--hostname', 'box', 'busybox', 'hostname')).toBe('box');
      expect(await docker('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net')).toBe('lo');
    });
  });
});
