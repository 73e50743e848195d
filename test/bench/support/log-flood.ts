import { ConsoleClient } from '../../support/console-client.js';
import type { BenchPlane } from './bench-plane.js';
import { type EngineDoor, openStream, request, requestJson } from './engine-door.js';
import { LatencySample, nowMs } from './latency-sample.js';
import { LogMarkers } from './log-markers.js';
import { LogViewer } from './log-viewer.js';
import { CpuWatch } from './process-cpu.js';
import { within } from './deadline.js';

export interface LogFloodScenario {
  label: string;
  /** How the readers follow the log: the agent's socket, the server's REST proxy, or console sockets. */
  path: 'local' | 'rest' | 'console';
  viewers: number;
  /** Bytes per log line, newline included (the flood is whole lines). */
  lineBytes: number;
  floodBytes: number;
}

export interface LogFloodResult {
  scenario: LogFloodScenario;
  /** MB/s of each viewer that saw the whole flood, slowest first. */
  rates: number[];
  /** MB/s of all those viewers together, from the first one's first byte to the last one's end. */
  aggregateRate: number;
  /** Marker latency before the flood, and during it (markers that came ahead of the flood's end). */
  idle: LatencySample;
  flood: LatencySample;
  floodMarkers: number;
  /** Average bytes per chunk a viewer received (one Socket.IO message each on a console stream). */
  bytesPerChunk: number;
  /** Share of a core used during the flood by the server, the agent and the benchmark's readers. */
  cpu: { server: number; agent: number; readers: number };
  /** When the first flood byte reached a viewer, after the go. */
  firstByte: LatencySample;
  /** Viewers that did not see the end, with why, and how fast they had been until then (MB/s). */
  cut: Array<{ reason: string; rate: number; bytes: number }>;
  /** The server died during the flood: the error it died of. */
  serverCrash: string | undefined;
  timedOut: boolean;
}

const FLOOD_TIMEOUT_MS = 120_000;
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/**
 * One run of the log benchmark: a busybox container prints `Mready` and waits; the viewers follow
 * its log; markers are written into its stdout for 2 s (idle latency); then it floods
 * `floodBytes` of `lineBytes`-byte lines, ended by `Mdone`, while markers go on (latency in a flood).
 */
export async function runLogFlood(
  plane: BenchPlane,
  doors: { local: EngineDoor; rest: EngineDoor },
  scenario: LogFloodScenario,
): Promise<LogFloodResult> {
  const { local } = doors;
  const line = 'x'.repeat(scenario.lineBytes - 1);
  const created = await requestJson<{ Id: string }>(local, 'POST', '/v1.41/containers/create', {
    Image: 'busybox',
    Cmd: [
      'sh',
      '-c',
      `echo Mready; while [ ! -e /tmp/go ]; do usleep 20000; done; yes ${line} | head -c ${scenario.floodBytes}; ` +
        'echo Mdone; exec sleep 3600',
    ],
  });
  const id = created.Id;
  await requestJson(local, 'POST', `/v1.41/containers/${id}/start`);
  const { State } = await requestJson<{ State: { Pid: number } }>(local, 'GET', `/v1.41/containers/${id}/json`);
  const path = `/v1.41/containers/${id}/logs?follow=1&stdout=1`;
  const consoles: ConsoleClient[] = [];
  const viewers: LogViewer[] = [];
  let markers: LogMarkers | undefined;
  let stopMarkers = () => {};
  try {
    if (scenario.path === 'console') {
      for (let opened = 0; opened < scenario.viewers; opened += 1) {
        const client = await ConsoleClient.connect(plane.baseUrl, plane.admin);
        // The test client keeps its streams open when its socket drops; a viewer must see that as its end.
        client.socket.on('disconnect', (reason) =>
          client.streams.closeAll({ kind: 'unavailable', message: `the console disconnected (${reason})` }),
        );
        consoles.push(client);
      }
      const streams = await Promise.all(
        consoles.map((client) => client.open({ hostId: plane.agent.hostId, method: 'GET', path })),
      );
      viewers.push(...streams.map(({ stream }) => new LogViewer(stream)));
    } else {
      viewers.push(new LogViewer(await openStream(scenario.path === 'local' ? local : doors.rest, path)));
    }
    await within(
      30_000,
      'every viewer seeing Mready',
      Promise.all(viewers.map((viewer) => viewer.until((it) => it.readyAt !== undefined))),
    );

    markers = new LogMarkers(State.Pid);
    stopMarkers = markers.keepWriting();
    await sleep(2_000);
    stopMarkers();
    const lastIdleMarker = markers.write();
    await sleep(300);

    for (const viewer of viewers) viewer.expectFlood();
    const cpu = CpuWatch.start([plane.server.child.pid ?? -1, plane.agent.process.child.pid ?? -1, process.pid]);
    const goAt = nowMs();
    stopMarkers = markers.keepWriting();
    await plane.agent.docker('exec', id, 'touch', '/tmp/go');
    const serverGone = plane.server.exited.then(() => 'gone' as const);
    const outcome = await within(
      FLOOD_TIMEOUT_MS,
      'the flood',
      Promise.race([Promise.all(viewers.map((viewer) => viewer.settled)), serverGone]),
    ).catch(() => 'timed out' as const);
    const [serverCpu, agentCpu, readersCpu] = cpu.stop();
    stopMarkers();
    // A viewer cut off may be the sign of a server on its way down: give it a moment to be seen.
    if (viewers.some((viewer) => viewer.failure !== undefined)) {
      await Promise.race([plane.server.exited, sleep(2_000)]);
    }
    const serverCrash = plane.serverDied() ? crashReason(plane.server.output()) : undefined;
    if (markers.failure) throw markers.failure;

    const idle = new LatencySample();
    const flood = new LatencySample();
    let floodMarkers = 0;
    for (const [seq, writtenAt] of markers.writtenAt) {
      if (seq > lastIdleMarker) floodMarkers += 1;
      for (const viewer of viewers) {
        const arrived = viewer.markerArrivals.get(seq);
        if (arrived === undefined) continue;
        if (seq <= lastIdleMarker) idle.add(arrived - writtenAt);
        else if (viewer.doneAt === undefined || arrived < viewer.doneAt) flood.add(arrived - writtenAt);
      }
    }
    const completed = viewers.filter((viewer) => viewer.doneAt !== undefined && viewer.floodStartedAt !== undefined);
    const firstByte = new LatencySample();
    for (const viewer of viewers) if (viewer.floodStartedAt !== undefined) firstByte.add(viewer.floodStartedAt - goAt);
    const rate = (bytes: number, from: number, to: number) => bytes / 1e6 / ((to - from) / 1000);
    const chunks = viewers.reduce((sum, viewer) => sum + viewer.chunks, 0);
    const wireBytes = viewers.reduce((sum, viewer) => sum + viewer.wireBytes, 0);
    return {
      scenario,
      rates: completed
        .map((viewer) => rate(viewer.floodBytes, viewer.floodStartedAt!, viewer.doneAt!))
        .sort((a, b) => a - b),
      aggregateRate: rate(
        completed.reduce((sum, viewer) => sum + viewer.floodBytes, 0),
        Math.min(...completed.map((viewer) => viewer.floodStartedAt!)),
        Math.max(...completed.map((viewer) => viewer.doneAt!)),
      ),
      idle,
      flood,
      floodMarkers,
      bytesPerChunk: chunks === 0 ? Number.NaN : wireBytes / chunks,
      cpu: { server: serverCpu, agent: agentCpu, readers: readersCpu },
      firstByte,
      cut: viewers
        .filter((viewer) => viewer.doneAt === undefined)
        .map((viewer) => ({
          reason: viewer.failure ?? (serverCrash ? 'the server went away' : 'still reading at the timeout'),
          bytes: viewer.floodBytes,
          rate:
            viewer.floodStartedAt === undefined
              ? 0
              : rate(viewer.floodBytes, viewer.floodStartedAt, viewer.failedAt ?? nowMs()),
        })),
      serverCrash,
      timedOut: outcome === 'timed out',
    };
  } finally {
    stopMarkers();
    await markers?.close();
    for (const viewer of viewers) viewer.stream.destroy();
    for (const client of consoles) client.close();
    await request(local, 'DELETE', `/v1.41/containers/${id}?force=1`);
  }
}

/** The error a Node.js process died of, from its output. */
function crashReason(output: string): string {
  const tail = output.slice(output.lastIndexOf('throw er;') >= 0 ? output.lastIndexOf('throw er;') : -2000);
  return /^\s*(\w*Error\b.*)$/m.exec(tail)?.[1] ?? 'the server exited';
}
