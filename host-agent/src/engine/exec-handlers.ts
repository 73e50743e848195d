import type { EngineRouter } from '../engine-api/engine-router.js';
import { encodeFrame } from '../engine-api/stdcopy.js';
import type { ExecService } from '../containers/exec-service.js';
import { invalidArgument } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { EventBus } from '../events/event-bus.js';
import type { ContainerService } from '../containers/container-service.js';

/** `docker exec`: create, start (hijacked), resize, inspect. */
export function registerExecHandlers(
  router: EngineRouter,
  execs: ExecService,
  containers: ContainerService,
  events: EventBus,
): void {
  router.handle('POST /containers/{id}/exec', async (request, reply) => {
    const record = containers.get(request.params.id);
    const id = execs.create(record.id, await request.json());
    events.publish({
      type: 'container',
      action: `exec_create: ${execs.get(id).config.cmd.join(' ')}`,
      id: record.id,
      attributes: { name: record.name, image: record.imageName, execID: id },
    });
    reply.json(201, { Id: id });
  });

  router.handle('GET /exec/{id}/json', (request, reply) => {
    reply.json(200, execs.inspect(request.params.id));
  });

  router.handle('POST /exec/{id}/resize', async (request, reply) => {
    await execs.resize(request.params.id, request.query.int('h', 0), request.query.int('w', 0));
    reply.empty(200);
  });

  router.hijack('POST /exec/{id}/start', async (request, channel) => {
    const body = (await request.json()) as { Detach?: unknown } | undefined;
    if (body !== undefined && (typeof body !== 'object' || body === null))
      throw invalidArgument('the exec start body must be a JSON object');
    const detach = body?.Detach === true;
    const exec = execs.get(request.params.id);
    const container = containers.get(exec.containerId);
    if (detach) {
      await execs.start(exec.id, true);
      channel.reply.empty(200);
      return;
    }
    const starting = execs.start(exec.id, false);
    // A refusal before the upgrade is a plain error; the CLI prints it.
    const { attachment } = await starting;
    if (!attachment) throw new Error('an attached exec has no attach connection');
    const { socket } = channel.accept();
    const { tty, attachStdin, attachStdout, attachStderr } = exec.config;
    events.publish({
      type: 'container',
      action: `exec_start: ${exec.config.cmd.join(' ')}`,
      id: container.id,
      attributes: { name: container.name, execID: exec.id },
    });
    attachment.on('output', (stream, data) => {
      if (stream === 'systemerr') {
        socket.write(tty ? data : encodeFrame('stderr', data));
        return;
      }
      if ((stream === 'stdout' && !attachStdout) || (stream === 'stderr' && !attachStderr)) return;
      if (!socket.write(tty ? data : encodeFrame(stream, data))) {
        attachment.pause();
        socket.once('drain', () => attachment.resume());
      }
    });
    if (attachStdin) {
      socket.on('data', (chunk: Buffer) => {
        if (!attachment.write(chunk)) {
          socket.pause();
          attachment.once('drain', () => socket.resume());
        }
      });
      socket.on('end', () => attachment.closeStdin());
    }
    socket.on('error', () => attachment.detach());
    attachment.start();
    const status = await attachment.closed.catch((error: unknown) => {
      socket.write(encodeFrame('stderr', `${errorMessage(error)}\n`));
      return undefined;
    });
    events.publish({
      type: 'container',
      action: 'exec_die',
      id: container.id,
      attributes: { name: container.name, execID: exec.id, exitCode: String(status?.exitCode ?? '') },
    });
  });
}
