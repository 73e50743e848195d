import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEngine } from '../../../test/support/test-engine.js';

/** One Engine API call over the engine's socket, as a Docker library makes it. */
function call(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const outgoing = request(
      { socketPath, method, path, headers: payload ? { 'content-type': 'application/json' } : {} },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

/** Calls that race each other, as scripts and compose make them. */
describe('the engine under racing calls', () => {
  let fixture: TestEngine;
  const socket = () => fixture.engine.socketPath;

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true });
  });
  afterAll(() => fixture?.close());

  it('gives 60 containers created at once 60 different generated names', async () => {
    const created = await Promise.all(
      Array.from({ length: 60 }, () =>
        call(socket(), 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] }),
      ),
    );
    expect(created.filter((answer) => answer.status !== 201).map((answer) => answer.body)).toEqual([]);
    const names = (await fixture.docker('ps', '-a', '--format', '{{.Names}}')).split('\n');
    expect(new Set(names).size).toBe(60);
    await fixture.docker('rm', ...names);
  });

  it('removes a container the moment wait answers, and keeps serving', async () => {
    for (let round = 0; round < 30; round++) {
      const created = await call(socket(), 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
      const id = (JSON.parse(created.body) as { Id: string }).Id;
      expect((await call(socket(), 'POST', `/containers/${id}/start`)).status).toBe(204);
      expect(JSON.parse((await call(socket(), 'POST', `/containers/${id}/wait`)).body)).toMatchObject({
        StatusCode: 0,
      });
      const removed = await call(socket(), 'DELETE', `/containers/${id}`);
      expect(removed.status, removed.body).toBe(204);
    }
    expect(await fixture.docker('ps', '-aq')).toBe('');
    // The events of each container end with its destroy, after its die.
    const events = await fixture.docker(
      'events',
      '--since',
      '0',
      '--until',
      String(Math.ceil(Date.now() / 1000) + 1),
      '--filter',
      'event=die',
      '--filter',
      'event=destroy',
      '--format',
      '{{.Actor.ID}} {{.Action}}',
    );
    const last = new Map<string, string>();
    for (const line of events.split('\n')) {
      const [id, action] = line.split(' ');
      if (id && action) last.set(id, action);
    }
    expect([...last.values()].every((action) => action === 'destroy')).toBe(true);
  });
});
