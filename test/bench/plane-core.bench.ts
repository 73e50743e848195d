import http from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConsoleClient } from '../support/console-client.js';
import { repoRoot } from '../support/processes.js';
import { type BenchPlane, startBenchPlane } from './support/bench-plane.js';
import { BenchReport, ms } from './support/bench-report.js';
import { STATS_SETTLE_MS, transactionCount } from './support/database-activity.js';
import { within } from './support/deadline.js';
import { EchoProbe } from './support/echo-probe.js';
import { interleaved } from './support/interleaved.js';
import { type EngineDoor, localDoor, openUpgraded, request, requestJson, serverDoor } from './support/engine-door.js';
import { LatencySample, nowMs } from './support/latency-sample.js';
import { type LogFloodResult, type LogFloodScenario, runLogFlood } from './support/log-flood.js';

const RESULTS = join(repoRoot, 'test/bench/results/plane-core.md');

/** A line on the benchmark's output while it runs (the tables come at the end). */
const progress = (line: string) => process.stdout.write(`bench: ${line}\n`);

/** The report's sections, in the issue's order (they run in another). */
const TITLES = {
  proxy: '1. `GET /v1.41/containers/json`: proxy overhead',
  logs: '2. Followed log of a container writing as fast as it can',
  exec: '3. Interactive exec: keystroke echo',
};

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));
const pair = (a: number, b: number) => `${ms(a)} / ${ms(b)}`;
const mbs = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : 'n/a');

/**
 * Issue 4, the plane-core benchmark: what the server costs on the way to a host's engine. Each
 * measure makes the same Engine API call through the agent's local socket (the reference) and
 * through the server, interleaved, and the tables go to test/bench/results/plane-core.md.
 */
describe('the plane core', () => {
  let plane: BenchPlane;
  let local: EngineDoor;
  let viaToken: EngineDoor;
  let viaSession: EngineDoor;
  const report = new BenchReport(
    'Plane core benchmark',
    'test/bench/plane-core.bench.ts',
    'everything on loopback: the benchmark’s clients (one process), the built server (its own process, on an ' +
      'embedded PostgreSQL) and the built agent (its own process, running the containers) share the machine.',
  );

  /** Creates and starts a busybox container through the local socket; resolves with its id. */
  async function runContainer(cmd: string[]): Promise<string> {
    const { Id } = await requestJson<{ Id: string }>(local, 'POST', '/v1.41/containers/create', {
      Image: 'busybox',
      Cmd: cmd,
    });
    await requestJson(local, 'POST', `/v1.41/containers/${Id}/start`);
    return Id;
  }

  const removeContainer = (id: string) => request(local, 'DELETE', `/v1.41/containers/${id}?force=1`);

  /** Runs one measure; a failure is written into the report (with the server's last words) and fails the test. */
  async function section(title: string, measure: () => Promise<void>): Promise<void> {
    try {
      await measure();
    } catch (error) {
      report.addFailure(title, error);
      process.stderr.write(`the server's last output:\n${plane.server.output().slice(-4000)}\n`);
      throw error;
    }
  }

  beforeAll(async () => {
    plane = await startBenchPlane(inject('databaseAdminUrl'));
    local = localDoor(plane.agent.socketPath);
    viaToken = serverDoor(plane, 'token');
    viaSession = serverDoor(plane, 'session');
  }, 180_000);

  afterAll(async () => {
    // A partial run (a filter, or a plane that did not start) shows its tables but keeps the recorded results.
    if (report.covers(Object.values(TITLES))) {
      await report.write(RESULTS);
      process.stdout.write(`\n${report.render()}\nwritten to ${RESULTS}\n`);
    } else {
      process.stdout.write(`\n${report.render()}\nnot every measure ran: ${RESULTS} is left as it was\n`);
    }
    await plane?.close();
  }, 120_000);

  it('lists containers through the server at a small cost over the local socket', async () => {
    await section(TITLES.proxy, async () => {
      const idle = await Promise.all(Array.from({ length: 10 }, () => runContainer(['sleep', '3600'])));
      const doors = [local, viaToken, viaSession];
      const agents = new Map(doors.map((door) => [door, new http.Agent({ keepAlive: true, maxSockets: 1 })]));
      const samples = new Map(doors.map((door) => [door, new LatencySample()]));
      const path = '/v1.41/containers/json';
      const timed = async (door: EngineDoor): Promise<number> => {
        const started = nowMs();
        const answer = await request(door, 'GET', path, { agent: agents.get(door) });
        const elapsed = nowMs() - started;
        if (answer.status !== 200) throw new Error(`${door.label}: ${answer.status} ${answer.body.toString()}`);
        return elapsed;
      };
      for (const door of doors) {
        const listed = JSON.parse((await request(door, 'GET', path)).body.toString()) as unknown[];
        expect(listed, door.label).toHaveLength(idle.length);
      }
      for (const door of interleaved(doors, 200)) await timed(door);
      for (const door of interleaved(doors, 2_000)) samples.get(door)!.add(await timed(door));
      for (const agent of agents.values()) agent.destroy();

      // What each call costs the database: transactions over a few hundred calls per door, once settled.
      const queriesPerCall = new Map<EngineDoor, number>();
      await sleep(STATS_SETTLE_MS);
      let before = await transactionCount(plane.databaseUrl);
      for (const door of doors) {
        for (let call = 0; call < 300; call += 1) await request(door, 'GET', path);
        await sleep(STATS_SETTLE_MS);
        const after = await transactionCount(plane.databaseUrl);
        queriesPerCall.set(door, (after - before - 1) / 300); // less the reading of `before`
        before = after;
      }
      await Promise.all(idle.map(removeContainer));

      const direct = samples.get(local)!;
      report.addSection({
        title: TITLES.proxy,
        method:
          `${idle.length} running containers. One request at a time on a kept-alive connection per door, the ` +
          'doors interleaved round by round after 200 warm-up rounds; the time from sending a request to the ' +
          'last byte of its answer.',
        headers: ['door', 'requests', 'p50', 'p99', 'max', 'overhead p50', 'overhead p99', 'DB transactions per call'],
        rows: doors.map((door) => {
          const sample = samples.get(door)!;
          return [
            door.label,
            String(sample.count),
            ms(sample.p50),
            ms(sample.p99),
            ms(sample.max),
            door === local ? '—' : ms(sample.p50 - direct.p50),
            door === local ? '—' : ms(sample.p99 - direct.p99),
            queriesPerCall.get(door)!.toFixed(2),
          ];
        }),
        notes: [
          'Through the server a call is authenticated, authorised and relayed over the agent’s Socket.IO link; ' +
            'the agent makes it on its own socket (on a kept-alive connection). Credentials, access and the host ' +
            'row are cached for 5 s, so a call normally costs the server no query.',
          'DB transactions per call: the server’s PostgreSQL transactions over 300 more calls through each door ' +
            '(pg_stat_database); the local socket’s row is the server’s background work in that time.',
        ],
      });
      const overheads = [viaToken, viaSession].map((door) => samples.get(door)!.p50 - direct.p50);
      report.addGoal({
        goal: 'proxy overhead under 2 ms p50 (`GET containers/json`)',
        measured: `${ms(overheads[0])} with an API token, ${ms(overheads[1])} with a session cookie`,
        met: Math.max(...overheads) < 2,
      });
      progress(`containers/json p50: ${doors.map((door) => `${door.label} ${ms(samples.get(door)!.p50)}`).join(', ')}`);
    });
  }, 300_000);

  it('echoes the keystrokes of an interactive exec through the server', async () => {
    await section(TITLES.exec, async () => {
      const id = await runContainer(['sleep', '3600']);
      const consoleClient = await ConsoleClient.connect(plane.baseUrl, plane.admin);
      const sessions: Array<{ label: string; stream: Duplex }> = [];
      try {
        const start = { Detach: false, Tty: true };
        const startPath = async () => {
          const exec = await requestJson<{ Id: string }>(local, 'POST', `/v1.41/containers/${id}/exec`, {
            AttachStdin: true,
            AttachStdout: true,
            AttachStderr: true,
            Tty: true,
            Cmd: ['sh', '-c', 'stty raw -echo; echo Mraw; exec cat'],
          });
          return `/v1.41/exec/${exec.Id}/start`;
        };
        sessions.push({
          label: 'local socket (reference)',
          stream: await openUpgraded(local, await startPath(), start),
        });
        sessions.push({
          label: 'server, upgraded HTTP (API token)',
          stream: await openUpgraded(viaToken, await startPath(), start),
        });
        const opened = await consoleClient.open({
          hostId: plane.agent.hostId,
          method: 'POST',
          path: await startPath(),
          body: start,
        });
        expect(opened.head).toMatchObject({ status: 101, upgraded: true });
        sessions.push({ label: 'server, console socket', stream: opened.stream });

        const probes = sessions.map((session) => new EchoProbe(session.stream));
        await within(15_000, 'every session in raw mode', Promise.all(probes.map((probe) => probe.waitFor('Mraw'))));
        for (const probe of interleaved(probes, 100)) await probe.stroke();
        const samples = new Map(probes.map((probe) => [probe, new LatencySample()]));
        for (const probe of interleaved(probes, 1_000)) samples.get(probe)!.add(await probe.stroke());

        const direct = samples.get(probes[0])!;
        report.addSection({
          title: TITLES.exec,
          method:
            'Three `docker exec -it` sessions in one busybox container, each running `stty raw -echo; exec cat` on ' +
            'a TTY: one on the local socket, one through the server as the docker CLI makes it (`Upgrade: tcp`), ' +
            'one over the console’s Socket.IO stream. One key at a time, the sessions interleaved after 100 ' +
            'warm-up keys each; the time from sending a key to its echo arriving.',
          headers: ['path', 'keys', 'p50', 'p99', 'max', 'overhead p50', 'overhead p99'],
          rows: probes.map((probe, index) => {
            const sample = samples.get(probe)!;
            return [
              sessions[index].label,
              String(sample.count),
              ms(sample.p50),
              ms(sample.p99),
              ms(sample.max),
              index === 0 ? '—' : ms(sample.p50 - direct.p50),
              index === 0 ? '—' : ms(sample.p99 - direct.p99),
            ];
          }),
          notes: [],
        });
        const worst = Math.max(samples.get(probes[1])!.p99, samples.get(probes[2])!.p99);
        report.addGoal({
          goal: 'keystroke echo under 20 ms p99 on loopback',
          measured: `${ms(samples.get(probes[1])!.p99)} upgraded HTTP, ${ms(samples.get(probes[2])!.p99)} console socket`,
          met: worst < 20,
        });
        progress(
          `keystroke echo p99: ${probes.map((probe, index) => `${sessions[index].label} ${ms(samples.get(probe)!.p99)}`).join(', ')}`,
        );
      } finally {
        for (const session of sessions) session.stream.destroy();
        consoleClient.close();
        await removeContainer(id);
      }
    });
  }, 300_000);

  // Last: a flood can bring the server down (see the notes it writes), and it is restarted for what follows.
  it('streams the log of a flooding container to one and to 100 viewers', async () => {
    await section(TITLES.logs, async () => {
      const scenario = (
        label: string,
        path: LogFloodScenario['path'],
        viewers: number,
        lineBytes: number,
        floodBytes: number,
      ): LogFloodScenario => ({ label, path, viewers, lineBytes, floodBytes });
      const scenarios = [
        scenario('local socket (reference)', 'local', 1, 200, 200_000_000),
        scenario('server REST proxy (API token)', 'rest', 1, 200, 200_000_000),
        scenario('server console socket', 'console', 1, 200, 200_000_000),
        scenario('server console socket, shared', 'console', 100, 200, 20_000_000),
        // The same with 20 times fewer, longer lines: what the cost per line (per message) is.
        scenario('local socket (reference)', 'local', 1, 4_000, 200_000_000),
        scenario('server REST proxy (API token)', 'rest', 1, 4_000, 200_000_000),
        scenario('server console socket', 'console', 1, 4_000, 200_000_000),
      ];
      const results: LogFloodResult[] = [];
      for (const each of scenarios) {
        if (plane.serverDied()) await plane.restartServer();
        const result = await runLogFlood(plane, { local, rest: viaToken }, each);
        results.push(result);
        progress(
          `log, ${each.label} × ${each.viewers}, ${each.lineBytes}-byte lines: ${mbs(result.rates[0])} MB/s ` +
            `slowest, ${result.cut.length} cut off${result.serverCrash ? `, the server crashed: ${result.serverCrash}` : ''}`,
        );
      }
      if (plane.serverDied()) await plane.restartServer();

      report.addSection({
        title: TITLES.logs,
        method:
          'Each row is a fresh busybox container that prints `Mready`, waits, then runs `yes <line> | head -c ' +
          '<flood>` (lines of `x`) and prints `Mdone`. The readers follow `logs?follow=1&stdout=1` from before ' +
          'the flood; MB/s is a reader’s flood bytes over the time from its first flood byte to its `Mdone` ' +
          '(MB = 10⁶ bytes of log text, frame headers not counted). Latency: every 50-150 ms a line `MARK <n>` ' +
          'is written straight into the container’s stdout pipe (`/proc/<pid>/fd/1`, from the host) and timed ' +
          'until it reaches each reader: “idle” for 2 s before the flood, “in flood” while it runs. CPU is the ' +
          'share of one core each process used during the flood.',
        headers: [
          'path',
          'viewers',
          'line',
          'flood',
          'MB/s per viewer (median / slowest)',
          'MB/s all viewers',
          'latency idle p50 / p99',
          'latency in flood p50 / p99 (markers)',
          'bytes per message',
          'CPU server / agent / readers',
          'viewers cut off',
        ],
        rows: results.map((result) => {
          const { rates, scenario, cpu } = result;
          const outcome = result.serverCrash ? '**server crashed**' : result.timedOut ? 'timed out' : null;
          return [
            scenario.label,
            String(scenario.viewers),
            `${scenario.lineBytes} B`,
            `${scenario.floodBytes / 1e6} MB`,
            rates.length === 0
              ? (outcome ?? 'n/a')
              : `${mbs(rates[Math.floor((rates.length - 1) / 2)])} / ${mbs(rates[0])}`,
            rates.length === 0 ? '—' : mbs(result.aggregateRate),
            pair(result.idle.p50, result.idle.p99),
            `${pair(result.flood.p50, result.flood.p99)} (${result.floodMarkers})`,
            result.bytesPerChunk.toFixed(0),
            [cpu.server, cpu.agent, cpu.readers].map((share) => share.toFixed(2)).join(' / '),
            outcome && rates.length > 0 ? `${result.cut.length} (${outcome})` : String(result.cut.length),
          ];
        }),
        notes: [
          'The agent reads a followed log from the json-file log that skiff-shim writes, up to 1 MiB at a time, ' +
            'woken by inotify when it grows (and checking every 100 ms whether the container still runs).',
          'In a flood the container writes faster than any reader takes its log: the backlog waits in the log ' +
            'file, so the latency in a flood is mostly the time to read the backlog ahead of a marker.',
          'Console viewers of one container share one stream from the agent (LogFanout); a viewer more than ' +
            '1 MiB behind it is cut off by design. All Socket.IO viewers run in the benchmark’s one process.',
          ...results.flatMap((result) => logNotes(result)),
        ],
      });
      const find = (path: LogFloodScenario['path'], lineBytes: number) =>
        results.find(
          (result) =>
            result.scenario.path === path && result.scenario.viewers === 1 && result.scenario.lineBytes === lineBytes,
        )!;
      const single = find('console', 200);
      const rest = find('rest', 200);
      const summary = (result: LogFloodResult) =>
        result.rates.length > 0
          ? `${mbs(result.rates[0])} MB/s`
          : result.serverCrash
            ? 'the server crashed'
            : `cut off (${mbs(result.cut[0]?.rate ?? Number.NaN)} MB/s until then)`;
      report.addGoal({
        goal: 'at least 50 MB/s of log to one viewer',
        measured:
          `200-byte lines: ${summary(single)} on the console socket, ${summary(rest)} over REST; ` +
          `4000-byte lines: ${summary(find('console', 4_000))} on the console socket, ${summary(find('rest', 4_000))} over REST`,
        met: (single.rates[0] ?? 0) >= 50,
      });
    });
  }, 600_000);
});

/** What a log row's numbers do not say: crashes, cut-off viewers, short counts, the time to the first byte. */
function logNotes(result: LogFloodResult): string[] {
  const { scenario } = result;
  const notes: string[] = [];
  const where = `${scenario.label} × ${scenario.viewers}, ${scenario.lineBytes}-byte lines`;
  if (result.serverCrash) notes.push(`${where}: the server process died during the flood: \`${result.serverCrash}\`.`);
  if (result.cut.length > 0) {
    const reasons = [...new Set(result.cut.map((viewer) => viewer.reason))];
    const bytes = result.cut.reduce((sum, viewer) => sum + viewer.bytes, 0) / result.cut.length;
    const rate = result.cut.reduce((sum, viewer) => sum + viewer.rate, 0) / result.cut.length;
    notes.push(
      `${where}: ${result.cut.length} viewer(s) did not see the end (${reasons.join('; ')}), after ` +
        `${(bytes / 1e6).toFixed(1)} MB on average at ${mbs(rate)} MB/s.`,
    );
  }
  if (result.timedOut) notes.push(`${where}: stopped waiting after 120 s.`);
  notes.push(`${where}: the first flood byte arrived ${ms(result.firstByte.p50)} after the go (p50).`);
  return notes;
}
