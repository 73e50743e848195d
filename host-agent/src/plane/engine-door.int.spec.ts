import type { EngineCall } from '@skiff/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DoorLink, readAll } from '../../../test/support/door-link.js';
import { TestEngine } from '../../../test/support/test-engine.js';
import { StdcopyDecoder, demultiplex } from '../engine-api/stdcopy.js';
import { createLogger } from '../logger.js';
import { EngineDoor } from './engine-door.js';

type Call = Omit<EngineCall, 'stream'>;

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const json = (method: string, path: string, body: unknown): Call => ({
  method,
  path,
  headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(JSON.stringify(body))) },
  body: true,
  upgrade: false,
});

/** A real engine behind the plane door, called the way the server forwards calls. */
describe('the plane door on a real engine', () => {
  let engine: TestEngine;
  let link: DoorLink;

  beforeAll(async () => {
    engine = await TestEngine.start({ busybox: true });
    const door = new EngineDoor({
      socketPath: engine.engine.socketPath,
      logger: createLogger({ level: 'error', write: () => undefined }),
    });
    link = new DoorLink(door);
  });
  afterAll(async () => {
    link?.disconnect();
    await engine?.close();
  });

  /** Makes a call with an optional JSON body and resolves with its status and whole answer. */
  async function call(request: Call, body?: unknown): Promise<{ status: number; text: string }> {
    const { stream, head } = link.call(request);
    if (body !== undefined) stream.end(JSON.stringify(body));
    const answer = await head;
    return { status: answer.status, text: (await readAll(stream)).toString() };
  }

  const GET = (path: string): Call => ({ method: 'GET', path, headers: {}, body: false, upgrade: false });

  it('lists containers', async () => {
    const { status, text } = await call(GET('/v1.41/containers/json?all=1'));

    expect(status).toBe(200);
    expect(JSON.parse(text)).toEqual([]);
  });

  it('answers an unknown path with the engine 404', async () => {
    const { status, text } = await call(GET('/v1.41/nothing/here'));

    expect(status).toBe(404);
    expect(JSON.parse(text)).toEqual({ message: 'page not found' });
  });

  describe('with a running busybox container', () => {
    let id: string;

    beforeAll(async () => {
      const config = { Image: 'busybox', Cmd: ['sh', '-c', 'echo hello from the door; exec sleep 300'] };
      const created = await call(json('POST', '/v1.41/containers/create?name=door-echo', config), config);
      expect(created.status).toBe(201);
      id = (JSON.parse(created.text) as { Id: string }).Id;
      const started = await call({
        method: 'POST',
        path: `/v1.41/containers/${id}/start`,
        headers: {},
        body: false,
        upgrade: false,
      });
      expect(started.status).toBe(204);
    });

    it('follows its logs until the server stops reading them', async () => {
      const { stream, head } = link.call(GET(`/v1.41/containers/${id}/logs?follow=1&stdout=1`));
      expect((await head).status).toBe(200);

      const decoder = new StdcopyDecoder();
      let stdout = '';
      await new Promise<void>((resolve) => {
        stream.on('data', (chunk: Buffer) => {
          for (const frame of decoder.push(chunk)) if (frame.stream === 'stdout') stdout += frame.payload.toString();
          if (stdout.includes('\n')) resolve();
        });
      });
      expect(stdout).toBe('hello from the door\n');

      stream.destroy();
      // The call is over at both ends of the link, and the engine answers the next one as usual.
      await waitFor(() => link.table.size === 0);
      await expect(call(GET('/v1.41/_ping'))).resolves.toEqual({ status: 200, text: 'OK' });
    });

    it('runs an exec over an upgraded call and returns its multiplexed output', async () => {
      const execConfig = { AttachStdout: true, AttachStderr: true, Cmd: ['echo', 'hi'] };
      const created = await call(json('POST', `/v1.41/containers/${id}/exec`, execConfig), execConfig);
      expect(created.status).toBe(201);
      const execId = (JSON.parse(created.text) as { Id: string }).Id;

      const start = JSON.stringify({ Detach: false, Tty: false });
      const { stream, head } = link.call({
        method: 'POST',
        path: `/v1.41/exec/${execId}/start`,
        headers: { 'content-type': 'application/json', 'content-length': String(start.length) },
        body: true,
        upgrade: true,
      });
      stream.write(start);
      const answer = await head;
      expect(answer).toMatchObject({ status: 101, upgraded: true });
      expect(answer.headers['Content-Type']).toBe('application/vnd.docker.raw-stream');
      const output = await readAll(stream);
      stream.end();

      expect(demultiplex(output)).toEqual({ stdin: '', stdout: 'hi\n', stderr: '' });
      const inspected = await call(GET(`/v1.41/exec/${execId}/json`));
      expect(JSON.parse(inspected.text)).toMatchObject({ Running: false, ExitCode: 0 });
    });
  });
});
