import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DOCKER_DEFAULT_CAPABILITIES, processCapabilities } from './capabilities.js';
import type { ShimExecPlan, ShimPlan } from './shim-plan.js';
import { parseShimReport, ShimError, ShimStartError, startExec, startShim } from './shim-runner.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-shim-runner-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function plan(overrides: Partial<ShimPlan> = {}): ShimPlan {
  return {
    stateDir: dir,
    logPath: join(dir, 'log.json'),
    namespaces: ['mount', 'pid'],
    rootfs: { kind: 'bind', target: join(dir, 'rootfs'), source: '/' },
    mounts: [],
    capabilities: processCapabilities(DOCKER_DEFAULT_CAPABILITIES),
    user: { uid: 0, gid: 0 },
    cwd: '/',
    env: [],
    args: ['true'],
    noNewPrivileges: true,
    stdio: { stdin: { kind: 'null' }, stdout: { kind: 'log' }, stderr: { kind: 'log' } },
    ...overrides,
  };
}

/** A stand-in for skiff-shim: a shell script that answers on fd 3 like the real one. */
async function fakeShim(body: string): Promise<string> {
  const path = join(dir, 'fake-shim');
  await writeFile(path, `#!/bin/sh\n# args: run --plan <file> --report-fd 3\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

describe(parseShimReport.name, () => {
  it('reads the pids of a started container', () => {
    expect(parseShimReport('started 4242 4240\n')).toEqual({ pid: 4242, shimPid: 4240 });
  });

  it('turns an error line into a ShimStartError whose message is "step: ERRNO (description): path"', () => {
    const error = parseShimReport('error mount%20proc 2 ENOENT No%20such%20file%20or%20directory /proc\n');
    expect(error).toBeInstanceOf(ShimStartError);
    expect((error as ShimStartError).message).toBe('mount proc: ENOENT (No such file or directory): /proc');
    expect((error as ShimStartError).errno).toBe(2);
    expect((error as ShimStartError).kind).toBe('internal');
  });

  it('leaves out an empty path', () => {
    const error = parseShimReport('error capset 1 EPERM Operation%20not%20permitted %\n') as ShimStartError;
    expect(error.message).toBe('capset: EPERM (Operation not permitted)');
  });

  it("classifies a missing executable as the caller's mistake, with exit code 127 like Docker", () => {
    const error = parseShimReport(
      'error exec 2 ENOENT No%20such%20file%20or%20directory nosuchcmd\n',
    ) as ShimStartError;
    expect(error.kind).toBe('invalid-argument');
    expect(error.dockerExitCode).toBe(127);
  });

  it('classifies a container that is not running as a conflict', () => {
    const error = parseShimReport(
      'error container%20is%20not%20running 3 ESRCH No%20such%20process pid%204242\n',
    ) as ShimStartError;
    expect(error.kind).toBe('conflict');
    expect(error.message).toBe('container is not running: ESRCH (No such process): pid 4242');
  });

  it('returns nothing for an empty or garbled report', () => {
    expect(parseShimReport('')).toBeUndefined();
    expect(parseShimReport('started soon\n')).toBeUndefined();
  });
});

describe(startShim.name, () => {
  it('writes the plan into the state directory, readable only by root, before it runs the shim', async () => {
    const shimPath = await fakeShim('cp "$3" "$(dirname "$3")/seen.plan"; echo "started 101 100" >&3');
    await startShim({ shimPath, plan: plan() });
    const written = await readFile(join(dir, 'shim.plan'), 'utf8');
    expect(written).toMatch(/^skiff-shim-plan 1\n/);
    expect(await readFile(join(dir, 'seen.plan'), 'utf8')).toBe(written);
    expect((await stat(join(dir, 'shim.plan'))).mode & 0o777).toBe(0o600);
  });

  it('resolves with the container pid, and later with the exit status the shim recorded', async () => {
    const shimPath = await fakeShim(
      `echo "started 4242 $$" >&3; exec 3>&-
       printf '%s' '{"pid":4242,"exitCode":7,"signal":0,"oomKilled":false,"startedAt":"a","finishedAt":"b"}' > "$(dirname "$3")/exit.json"`,
    );
    const started = await startShim({ shimPath, plan: plan() });
    expect(started.pid).toBe(4242);
    expect(started.shimPid).toBeGreaterThan(0);
    await expect(started.exited).resolves.toMatchObject({ exitCode: 7, oomKilled: false });
  });

  it('rejects with the step, errno and path the shim reports', async () => {
    const shimPath = await fakeShim(
      'echo "error bind 2 ENOENT No%20such%20file%20or%20directory /srv/missing" >&3; exit 1',
    );
    await expect(startShim({ shimPath, plan: plan() })).rejects.toThrow(
      'bind: ENOENT (No such file or directory): /srv/missing',
    );
  });

  it('rejects with what the shim printed when it ends without a report', async () => {
    const shimPath = await fakeShim('echo "skiff-shim: usage" >&2; exit 2');
    await expect(startShim({ shimPath, plan: plan() })).rejects.toThrow(
      /without a report \(exit 2\): skiff-shim: usage/,
    );
  });

  it('rejects as unavailable when the shim binary is missing', async () => {
    const error = await startShim({ shimPath: join(dir, 'no-such-shim'), plan: plan() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShimError);
    expect((error as ShimError).kind).toBe('unavailable');
    expect((error as ShimError).message).toContain('no-such-shim');
  });

  it('kills a shim that does not answer in time', async () => {
    const shimPath = await fakeShim(`echo $$ > "$(dirname "$3")/pid"; exec sleep 30`);
    await expect(startShim({ shimPath, plan: plan(), timeoutMs: 300 })).rejects.toThrow('did not report within 300 ms');
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('refuses an invalid plan without writing it or running anything', async () => {
    const shimPath = await fakeShim('touch "$(dirname "$3")/ran"; echo "started 1 1" >&3');
    await expect(startShim({ shimPath, plan: plan({ args: [] }) })).rejects.toThrow('args is empty');
    await expect(stat(join(dir, 'shim.plan'))).rejects.toThrow();
    await expect(stat(join(dir, 'ran'))).rejects.toThrow();
  });
});

describe(startExec.name, () => {
  function execPlan(overrides: Partial<ShimExecPlan> = {}): ShimExecPlan {
    return {
      stateDir: dir,
      container: { pid: 4242, shimPid: 4240 },
      capabilities: processCapabilities(DOCKER_DEFAULT_CAPABILITIES),
      user: { uid: 0, gid: 0 },
      cwd: '/',
      env: [],
      args: ['true'],
      noNewPrivileges: true,
      stdio: { stdin: { kind: 'null' }, stdout: { kind: 'null' }, stderr: { kind: 'null' } },
      ...overrides,
    };
  }

  it('runs `skiff-shim exec` with the exec plan, and resolves with the process and its exit', async () => {
    const shimPath = await fakeShim(
      `echo "$1" > "$(dirname "$3")/mode"; cp "$3" "$(dirname "$3")/seen.plan"; echo "started 4300 $$" >&3; exec 3>&-
       printf '%s' '{"pid":4300,"exitCode":3,"signal":0,"oomKilled":false,"startedAt":"a","finishedAt":"b"}' > "$(dirname "$3")/exit.json"`,
    );
    const started = await startExec({ shimPath, plan: execPlan() });
    expect(started.pid).toBe(4300);
    expect(started.attachment).toBeUndefined();
    expect(await readFile(join(dir, 'mode'), 'utf8')).toBe('exec\n');
    expect(await readFile(join(dir, 'seen.plan'), 'utf8')).toContain('\nexec-in 4242 4240\n');
    await expect(started.exited).resolves.toMatchObject({ exitCode: 3 });
  });

  it('rejects with a conflict for a container that is not running', async () => {
    const shimPath = await fakeShim(
      'echo "error container%20is%20not%20running 3 ESRCH No%20such%20process pid%204242" >&3; exit 1',
    );
    const error = await startExec({ shimPath, plan: execPlan() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShimStartError);
    expect((error as ShimStartError).kind).toBe('conflict');
  });

  it('kills a held exec whose attach socket cannot be reached, instead of leaving it waiting', async () => {
    const shimPath = await fakeShim(
      `sleep 30 3>&- & echo $! > "$(dirname "$3")/pid"; echo "started $! $$" >&3; exec 3>&-; wait`,
    );
    const plan = execPlan({
      attach: { holdUntilStart: true },
      stdio: { stdin: { kind: 'null' }, stdout: { kind: 'log' }, stderr: { kind: 'log' } },
    });
    await expect(startExec({ shimPath, plan })).rejects.toMatchObject({ kind: 'conflict' });
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
