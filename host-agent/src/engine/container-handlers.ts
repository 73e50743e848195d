import { readFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { EngineRouter } from '../engine-api/engine-router.js';
import { encodeFrame, encodeFrames } from '../engine-api/stdcopy.js';
import type { CgroupManager } from '../cgroups/cgroup-manager.js';
import { filterContainers } from '../containers/container-filters.js';
import { type StatsSample, sampleStats, statsDocument } from '../containers/container-stats.js';
import type { ContainerService } from '../containers/container-service.js';
import { containerInspect, containerSummary } from '../containers/container-views.js';
import { type LogEntry, parseLogTime, readJsonLog } from '../containers/json-log.js';
import { isRunning } from '../containers/container-state.js';
import { invalidArgument } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { ImageService } from '../images/image-service.js';
import { sleepUnlessAborted } from '../containers/abortable-sleep.js';
import { drainedOrClosed } from '../drained.js';

/** The container routes of the Engine API. */
export function registerContainerHandlers(
  router: EngineRouter,
  containers: ContainerService,
  images: ImageService,
  cgroups: CgroupManager,
): void {
  router.handle('POST /containers/create', async (request, reply) => {
    const created = await containers.create(await request.json(), request.query.string('name') || undefined);
    reply.json(201, created);
  });

  router.handle('GET /containers/json', (request, reply) => {
    const all = request.query.bool('all');
    const limit = request.query.int('limit', -1);
    let records = containers.list();
    if (!all && limit <= 0) records = records.filter((record) => isRunning(record.state.status));
    records = filterContainers(
      records,
      request.query.filters(),
      (reference) => containers.get(reference),
      (reference, record) => {
        const image = images.find(reference);
        return image ? image.id === record.imageId : record.imageName === reference;
      },
      (record) => containers.networksOf(record),
    );
    if (limit > 0) records = records.slice(0, limit);
    reply.json(
      200,
      records.map((record) => containerSummary(record, Date.now(), containers.networkView(record))),
    );
  });

  router.handle('GET /containers/{id}/json', (request, reply) => {
    const record = containers.get(request.params.id);
    reply.json(200, containerInspect(record, containers.networkView(record), containers.store.directory(record.id)));
  });

  router.handle('POST /containers/{id}/start', async (request, reply) => {
    reply.empty((await containers.start(request.params.id)) === 'noop' ? 304 : 204);
  });

  router.handle('POST /containers/{id}/stop', async (request, reply) => {
    const outcome = await containers.stop(
      request.params.id,
      request.query.int('t'),
      request.query.string('signal') || undefined,
    );
    reply.empty(outcome === 'noop' ? 304 : 204);
  });

  router.handle('POST /containers/{id}/restart', async (request, reply) => {
    await containers.restart(request.params.id, request.query.int('t'));
    reply.empty(204);
  });

  router.handle('POST /containers/{id}/kill', async (request, reply) => {
    await containers.kill(request.params.id, request.query.string('signal') || 'SIGKILL');
    reply.empty(204);
  });

  router.handle('POST /containers/{id}/pause', async (request, reply) => {
    await containers.pause(request.params.id);
    reply.empty(204);
  });

  router.handle('POST /containers/{id}/unpause', async (request, reply) => {
    await containers.unpause(request.params.id);
    reply.empty(204);
  });

  router.handle('POST /containers/{id}/update', async (request, reply) => {
    reply.json(200, await containers.update(request.params.id, await request.json()));
  });

  router.handle('POST /containers/{id}/rename', async (request, reply) => {
    const name = request.query.string('name');
    if (!name) throw invalidArgument('name is required: give the new name');
    await containers.rename(request.params.id, name);
    reply.empty(204);
  });

  router.handle('POST /containers/{id}/wait', async (request, reply) => {
    const condition = request.query.string('condition') || 'not-running';
    if (condition !== 'not-running' && condition !== 'next-exit' && condition !== 'removed') {
      throw invalidArgument(`invalid condition "${condition}": use not-running, next-exit or removed`);
    }
    containers.get(request.params.id);
    // The head goes out at once: `docker run` opens the wait before it starts the container.
    const out = reply.stream(200, 'application/json');
    const result = await containers.wait(request.params.id, condition, request.signal);
    out.write(`${JSON.stringify(result)}\n`);
  });

  router.handle('DELETE /containers/{id}', async (request, reply) => {
    await containers.remove(request.params.id, {
      force: request.query.bool('force'),
      volumes: request.query.bool('v'),
    });
    reply.empty(204);
  });

  router.handle('POST /containers/prune', async (_request, reply) => {
    const deleted: string[] = [];
    for (const record of containers.list()) {
      if (isRunning(record.state.status)) continue;
      await containers.remove(record.id);
      deleted.push(record.id);
    }
    reply.json(200, { ContainersDeleted: deleted, SpaceReclaimed: 0 });
  });

  router.handle('GET /containers/{id}/top', async (request, reply) => {
    const pids = await containers.top(request.params.id);
    const processes = await Promise.all(pids.map(describeProcess));
    reply.json(200, {
      Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
      Processes: processes.filter((row): row is string[] => row !== undefined),
    });
  });

  router.handle('GET /containers/{id}/stats', async (request, reply) => {
    const record = containers.get(request.params.id);
    const stream = request.query.bool('stream', true);
    const oneShot = request.query.bool('one-shot');
    const writer = reply.jsonLines();
    let previous: StatsSample | undefined;
    if (!stream && !oneShot) {
      // `docker stats --no-stream` shows CPU percentages, which need two readings: take them 1 s apart.
      previous = await sampleStats(record, cgroups);
      await sleepUnlessAborted(1000, request.signal);
    }
    for (;;) {
      const current = await sampleStats(record, cgroups);
      writer.offer(statsDocument(record, current, previous));
      if (!stream || !isRunning(record.state.status) || request.signal.aborted || writer.closed) return;
      previous = current;
      await sleepUnlessAborted(1000, request.signal);
      if (request.signal.aborted) return;
    }
  });

  router.handle('GET /containers/{id}/changes', async (request, reply) => {
    reply.json(200, await containers.changes(request.params.id));
  });

  router.handle('GET /containers/{id}/export', async (request, reply) => {
    const archive = await containers.export(request.params.id);
    await pipeline(archive, reply.stream(200, 'application/x-tar'));
  });

  router.handle('POST /containers/{id}/resize', async (request, reply) => {
    await containers.resize(request.params.id, request.query.int('h', 0), request.query.int('w', 0));
    reply.empty(200);
  });

  router.handle('GET /containers/{id}/logs', async (request, reply) => {
    const record = containers.get(request.params.id);
    const stdout = request.query.bool('stdout');
    const stderr = request.query.bool('stderr');
    if (!stdout && !stderr) throw invalidArgument('you must choose at least one stream: stdout, stderr or both');
    const tailText = request.query.string('tail') ?? 'all';
    if (tailText !== 'all' && !/^\d+$/.test(tailText))
      throw invalidArgument(`tail must be a number or "all", not "${tailText}"`);
    const timestamps = request.query.bool('timestamps');
    const out = reply.stream(200);
    const format = (entry: LogEntry) =>
      timestamps ? Buffer.concat([Buffer.from(`${entry.time} `), entry.log]) : entry.log;
    for await (const batch of readJsonLog(containers.logPath(record), {
      stdout,
      stderr,
      since: parseLogTime(request.query.string('since') ?? ''),
      until: parseLogTime(request.query.string('until') ?? ''),
      tail: tailText === 'all' ? undefined : Number(tailText),
      follow: request.query.bool('follow'),
      isRunning: () => isRunning(record.state.status) || record.state.status === 'created',
      signal: request.signal,
      times: timestamps,
    })) {
      const bytes = record.request.tty
        ? Buffer.concat(batch.map(format))
        : encodeFrames(batch.map((entry) => ({ stream: entry.stream, payload: format(entry) })));
      if (!out.write(bytes)) await drainedOrClosed(out);
      if (out.destroyed) return;
    }
  });

  router.hijack('POST /containers/{id}/attach', async (request, channel) => {
    const wantsStdin = request.query.bool('stdin');
    const wantsStdout = request.query.bool('stdout');
    const wantsStderr = request.query.bool('stderr');
    const record = containers.get(request.params.id);
    // Refusals go out as errors before the upgrade; after it, the client is waiting for output.
    const attaching = containers.attach(record.id, wantsStdin && record.request.openStdin);
    attaching.catch(() => undefined);
    const { socket } = channel.accept();
    let attachment;
    try {
      ({ attachment } = await attaching);
    } catch (error) {
      socket.write(encodeFrame('stderr', `${errorMessage(error)}\n`));
      return;
    }
    const tty = record.request.tty;
    attachment.on('output', (stream, data) => {
      if (stream === 'systemerr') return;
      if ((stream === 'stdout' && !wantsStdout) || (stream === 'stderr' && !wantsStderr)) return;
      const ok = socket.write(tty ? data : encodeFrame(stream, data));
      if (!ok) {
        attachment.pause();
        socket.once('drain', () => attachment.resume());
      }
    });
    if (wantsStdin && record.request.openStdin) {
      socket.on('data', (chunk: Buffer) => {
        if (!attachment.write(chunk)) {
          socket.pause();
          attachment.once('drain', () => socket.resume());
        }
      });
      socket.on('end', () => {
        if (record.request.stdinOnce) attachment.closeStdin();
      });
    }
    socket.on('close', () => attachment.detach());
    await attachment.closed;
  });
}

/** One row of `docker top`, in ps -ef's columns, from /proc. */
async function describeProcess(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1] ?? '0';
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ');
    const ticks = (Number(fields[11]) + Number(fields[12])) / 100;
    const time = new Date(ticks * 1000).toISOString().slice(11, 19);
    return [
      uid === '0' ? 'root' : uid,
      String(pid),
      fields[1] ?? '0',
      '0',
      '-',
      '?',
      time,
      cmdline || `[${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}]`,
    ];
  } catch {
    return undefined;
  }
}
