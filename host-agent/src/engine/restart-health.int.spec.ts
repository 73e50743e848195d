import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage } from '../../../test/support/busybox-image.js';
import { TestEngine } from '../../../test/support/test-engine.js';

const SECOND_NS = 1_000_000_000;

interface Inspected {
  Id: string;
  RestartCount: number;
  State: {
    Status: string;
    ExitCode: number;
    Pid: number;
    Error: string;
    Health?: {
      Status: string;
      FailingStreak: number;
      Log: { ExitCode: number; Output: string; Start: string; End: string }[];
    };
  };
  Config: { Healthcheck?: { Test: string[]; Interval?: number; Retries?: number } };
}

/** Restart policies and health checks through the docker CLI, across restarts of the engine. */
describe('restart policies and health checks', () => {
  let fixture: TestEngine;
  const docker = (...args: string[]) => fixture.docker(...args);
  const inspect = async (name: string): Promise<Inspected> => JSON.parse(await docker('inspect', name))[0];
  /** The container's events so far, oldest first, as `docker events` prints them. */
  const events = async (name: string, since: number) =>
    (
      await docker(
        'events',
        '--since',
        String(since),
        '--until',
        String(Math.ceil(Date.now() / 1000) + 1),
        '--filter',
        `container=${name}`,
        '--format',
        '{{json .}}',
      )
    )
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { Action: string; timeNano: number });

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true });
  });
  afterAll(() => fixture?.close());

  it('restarts an on-failure:2 container twice, waiting longer each time, then leaves it exited', async () => {
    const since = Math.floor(Date.now() / 1000);
    await docker('run', '-d', '--name', 'fails', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3');
    await expect.poll(async () => (await inspect('fails')).RestartCount, { timeout: 10_000, interval: 100 }).toBe(2);
    await expect.poll(async () => (await inspect('fails')).State.Status, { timeout: 10_000 }).toBe('exited');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const container = await inspect('fails');
    expect(container).toMatchObject({ RestartCount: 2, State: { Status: 'exited', ExitCode: 3 } });

    const seen = (await events('fails', since)).filter((event) => event.Action === 'start' || event.Action === 'die');
    expect(seen.map((event) => event.Action)).toEqual(['start', 'die', 'start', 'die', 'start', 'die']);
    // The back-off: at least 100 ms before the first restart, at least 200 ms before the second.
    const waitMs = (dieAt: number) => (seen[dieAt + 1].timeNano - seen[dieAt].timeNano) / 1e6;
    expect(waitMs(1)).toBeGreaterThanOrEqual(95);
    expect(waitMs(3)).toBeGreaterThanOrEqual(195);
  });

  it('keeps restarting an always container until it is stopped, and a stop is final', async () => {
    await docker('run', '-d', '--name', 'loops', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2');
    await expect
      .poll(async () => (await inspect('loops')).RestartCount, { timeout: 15_000, interval: 100 })
      .toBeGreaterThanOrEqual(3);
    await docker('stop', '--time', '1', 'loops');
    const stopped = await inspect('loops');
    expect(stopped.State.Status).toBe('exited');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await inspect('loops')).toMatchObject({ RestartCount: stopped.RestartCount, State: { Status: 'exited' } });
    // `docker start` by hand puts the policy back to work.
    await docker('start', 'loops');
    await expect
      .poll(async () => (await inspect('loops')).RestartCount, { timeout: 15_000, interval: 100 })
      .toBeGreaterThan(stopped.RestartCount);
    await docker('rm', '-f', 'loops');
    expect(await fixture.dockerAll('inspect', 'loops')).toMatchObject({ code: 1 });
  });

  it('removes a container that is waiting out its back-off with rm -f, and refuses rm without -f', async () => {
    await docker('run', '-d', '--name', 'waiting', '--restart', 'always', 'busybox', 'false');
    await expect.poll(async () => (await inspect('waiting')).RestartCount, { timeout: 15_000 }).toBeGreaterThan(4);
    // Now it waits 1.6 s or more between runs: catch it waiting.
    await expect.poll(async () => (await inspect('waiting')).State.Status, { timeout: 15_000 }).toBe('restarting');
    expect(await docker('ps', '--filter', 'name=waiting', '--format', '{{.Status}}')).toMatch(/^Restarting \(1\)/);
    const refused = await fixture.dockerAll('rm', 'waiting');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/stop it first, or force the removal/);
    await docker('rm', '-f', 'waiting');
    expect(await docker('ps', '-aq', '--filter', 'name=waiting')).toBe('');
  });

  it('refuses --rm together with a restart policy, before anything is made', async () => {
    const client = new Docker({ socketPath: fixture.engine.socketPath });
    const before = await docker('ps', '-aq');
    const refused = await client
      .createContainer({
        Image: 'busybox',
        Cmd: ['true'],
        HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } },
      })
      .catch((error: { statusCode: number; message: string }) => error);
    expect(refused).toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/cannot have the restart policy "always"/),
    });
    expect(await docker('ps', '-aq')).toBe(before);
  });

  it('applies the policies when the engine starts again: always and unless-stopped as Docker does', async () => {
    await docker('run', '-d', '--name', 'always-stopped', '--restart', 'always', 'busybox', 'sleep', '3600');
    await docker('run', '-d', '--name', 'unless-stopped', '--restart', 'unless-stopped', 'busybox', 'sleep', '3600');
    await docker('run', '-d', '--name', 'lost', '--restart', 'unless-stopped', 'busybox', 'sleep', '3600');
    await docker('stop', '--time', '1', 'always-stopped', 'unless-stopped');
    const lost = await inspect('lost');

    // While the engine is down, one container's process is killed.
    await fixture.restart(0, async () => {
      process.kill(lost.State.Pid, 'SIGKILL');
      await expect.poll(() => alive(lost.State.Pid), { timeout: 5_000 }).toBe(false);
    });

    await expect.poll(async () => (await inspect('always-stopped')).State.Status, { timeout: 10_000 }).toBe('running');
    await expect.poll(async () => (await inspect('lost')).State.Status, { timeout: 10_000 }).toBe('running');
    expect((await inspect('lost')).State.Pid).not.toBe(lost.State.Pid);
    expect((await inspect('lost')).RestartCount).toBe(1);
    expect((await inspect('unless-stopped')).State.Status).toBe('exited');
    await docker('rm', '-f', 'always-stopped', 'unless-stopped', 'lost');
  });

  it('reports a container healthy once its check passes, and unhealthy after the retries fail', async () => {
    const since = Math.floor(Date.now() / 1000);
    await docker(
      'run',
      '-d',
      '--name',
      'checked',
      '--health-cmd',
      'test -f /tmp/ready && echo ready',
      '--health-interval',
      '200ms',
      '--health-retries',
      '2',
      'busybox',
      'sh',
      '-c',
      'touch /tmp/ready; sleep 3600',
    );
    await expect
      .poll(async () => (await inspect('checked')).State.Health?.Status, { timeout: 10_000, interval: 100 })
      .toBe('healthy');
    const healthy = await inspect('checked');
    expect(healthy.Config.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'test -f /tmp/ready && echo ready'],
      Interval: SECOND_NS / 5,
      Retries: 2,
    });
    expect(healthy.State.Health?.Log.at(-1)).toMatchObject({ ExitCode: 0, Output: 'ready\n' });
    expect(healthy.State.Health?.Log.length).toBeLessThanOrEqual(5);
    expect(await docker('ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}')).toMatch(
      /^checked Up .* \(healthy\)$/,
    );

    await docker('exec', 'checked', 'rm', '/tmp/ready');
    await expect
      .poll(async () => (await inspect('checked')).State.Health?.Status, { timeout: 10_000, interval: 100 })
      .toBe('unhealthy');
    const unhealthy = await inspect('checked');
    expect(unhealthy.State.Health?.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(unhealthy.State.Health?.Log.at(-1)?.ExitCode).toBe(1);
    expect(await docker('ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}')).toBe('checked');

    const actions = (await events('checked', since)).map((event) => event.Action);
    expect(actions.filter((action) => action.startsWith('health_status'))).toEqual([
      'health_status: healthy',
      'health_status: unhealthy',
    ]);
    await docker('rm', '-f', 'checked');
  });

  it('fails a probe that outlives its timeout, and counts no failure in the start period', async () => {
    // The CLI sends --health-start-interval only to API 1.44 engines; the field is in the body either way.
    const client = new Docker({ socketPath: fixture.engine.socketPath });
    const created = await client.createContainer({
      name: 'slow',
      Image: 'busybox',
      Cmd: ['sleep', '3600'],
      Healthcheck: {
        Test: ['CMD-SHELL', 'sleep 5'],
        Timeout: 0.3 * SECOND_NS,
        Interval: 0.2 * SECOND_NS,
        Retries: 1,
        StartPeriod: 3 * SECOND_NS,
        StartInterval: 0.2 * SECOND_NS,
      },
    });
    await created.start();
    expect(await docker('ps', '--filter', 'name=slow', '--format', '{{.Status}}')).toMatch(/\(health: starting\)$/);
    // In the start period the failures are logged but do not count.
    await expect
      .poll(async () => (await inspect('slow')).State.Health?.Log.length ?? 0, { timeout: 10_000, interval: 100 })
      .toBeGreaterThan(0);
    const early = await inspect('slow');
    expect(early.State.Health).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect(early.State.Health?.Log[0]).toMatchObject({ ExitCode: -1, Output: 'Health check exceeded timeout (0.3s)' });
    await expect
      .poll(async () => (await inspect('slow')).State.Health?.Status, { timeout: 10_000, interval: 100 })
      .toBe('unhealthy');
    // The timed-out probes were killed: at most the one running now is left.
    const probes = (await docker('top', 'slow')).split('\n').filter((line) => line.includes('sleep 5'));
    expect(probes.length).toBeLessThanOrEqual(1);
    await docker('rm', '-f', 'slow');
  });

  it("runs the image's own healthcheck, which --no-healthcheck turns off", async () => {
    const image = await buildBusyboxImage({
      tag: 'checked-image:1',
      containerConfig: { Healthcheck: { Test: ['CMD', 'true'], Interval: SECOND_NS / 5 } },
    });
    try {
      await docker('load', '--input', image.archivePath);
    } finally {
      await image.cleanup();
    }
    await docker('run', '-d', '--name', 'from-image', 'checked-image:1', 'sleep', '3600');
    await docker('run', '-d', '--name', 'unchecked', '--no-healthcheck', 'checked-image:1', 'sleep', '3600');
    await expect
      .poll(async () => (await inspect('from-image')).State.Health?.Status, { timeout: 10_000, interval: 100 })
      .toBe('healthy');
    const unchecked = await inspect('unchecked');
    expect(unchecked.State.Health).toBeUndefined();
    expect(unchecked.Config.Healthcheck?.Test).toEqual(['NONE']);
    expect(await docker('ps', '--filter', 'health=none', '--format', '{{.Names}}')).toBe('unchecked');
    await docker('rm', '-f', 'from-image', 'unchecked');
  });

  it('keeps a healthy container healthy, and probing, across an engine restart', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'steady',
      '--health-cmd',
      'true',
      '--health-interval',
      '200ms',
      'busybox',
      'sleep',
      '3600',
    );
    await expect
      .poll(async () => (await inspect('steady')).State.Health?.Status, { timeout: 10_000, interval: 100 })
      .toBe('healthy');
    await fixture.restart(300);
    const after = await inspect('steady');
    expect(after.State.Health?.Status).toBe('healthy');
    const lastProbe = after.State.Health?.Log.at(-1)?.End ?? '';
    await expect
      .poll(async () => (await inspect('steady')).State.Health?.Log.at(-1)?.End, { timeout: 5_000, interval: 100 })
      .not.toBe(lastProbe);
    await docker('rm', '-f', 'steady');
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
