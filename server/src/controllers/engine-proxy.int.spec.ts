import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ConsoleClient } from '../../../test/support/console-client.js';
import { query } from '../../../test/support/database.js';
import { type EnrolledAgent, startEnrolledAgent } from '../../../test/support/enrolled-agent.js';
import { createUserWithRole } from '../../../test/support/people.js';
import { call, type Session, signIn, startTestServer, type TestServer } from '../../../test/support/test-server.js';
import { AgentLinkRepository } from '../repositories/agent-link.repository.js';
import { ConsoleEngineService } from '../services/console-engine.service.js';

/** The payloads of Docker's multiplexed stream (8-byte headers), as text per stream. */
function demux(raw: Buffer): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  let at = 0;
  while (at + 8 <= raw.length) {
    const size = raw.readUInt32BE(at + 4);
    const payload = raw.subarray(at + 8, at + 8 + size).toString('utf8');
    if (raw[at] === 2) stderr += payload;
    else stdout += payload;
    at += 8 + size;
  }
  return { stdout, stderr };
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The server as the one door to a real host: the built agent (as root, with its engine) dials
 * in, and people reach its Docker Engine API through REST, raw upgraded connections and the
 * console socket, each call authorised and the changes audited.
 */
describe('the engine proxy in front of a real agent', () => {
  let server: TestServer;
  let admin: Session;
  let viewer: Session;
  let agent: EnrolledAgent;
  let engine: string;

  const proxied = (session: Session, method: string, path: string, body?: unknown) =>
    call(server.baseUrl, session, method, `${engine}${path}`, body);

  /** Creates and starts a busybox container through the server; resolves with its id. */
  async function run(session: Session, cmd: string[], name?: string): Promise<string> {
    const created = await proxied(session, 'POST', `/v1.41/containers/create${name ? `?name=${name}` : ''}`, {
      Image: 'busybox',
      Cmd: cmd,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.Id as string;
    expect((await proxied(session, 'POST', `/v1.41/containers/${id}/start`)).status).toBe(204);
    return id;
  }

  /** An exec session over a raw upgraded connection, as the docker CLI makes it. */
  function execOverUpgrade(
    execId: string,
    session: Session,
    stdin?: string,
  ): Promise<{ head: string; output: Buffer }> {
    const url = new URL(server.baseUrl);
    const body = JSON.stringify({ Detach: false, Tty: false });
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const text = Buffer.concat(chunks).toString('latin1');
        if (stdin !== undefined && text.includes('\r\n\r\n') && !socket.writableEnded) socket.end(stdin);
      });
      socket.once('error', reject);
      socket.once('close', () => {
        const all = Buffer.concat(chunks);
        const split = all.indexOf('\r\n\r\n');
        resolve({ head: all.subarray(0, split).toString('latin1'), output: all.subarray(split + 4) });
      });
      socket.write(
        [
          `POST ${engine}/v1.41/exec/${execId}/start HTTP/1.1`,
          `Host: ${url.host}`,
          `Cookie: ${session.cookie}`,
          `X-CSRF-Token: ${session.csrfToken}`,
          'Content-Type: application/json',
          `Content-Length: ${Buffer.byteLength(body)}`,
          'Connection: Upgrade',
          'Upgrade: tcp',
          '',
          body,
        ].join('\r\n'),
      );
      if (stdin === undefined) socket.end();
    });
  }

  beforeAll(async () => {
    server = await startTestServer(inject('databaseAdminUrl'));
    admin = await signIn(server.baseUrl);
    agent = await startEnrolledAgent(server.baseUrl, admin, { name: 'proxy-01', busybox: true });
    engine = `/api/hosts/${agent.hostId}/engine`;
    viewer = await createUserWithRole(server.baseUrl, admin, 'vera', 'viewer');
  }, 120_000);

  afterAll(async () => {
    await agent?.close();
    await server?.close();
  });

  it('answers as the local socket does', async () => {
    const version = await proxied(admin, 'GET', '/version');
    expect(version.status).toBe(200);
    expect(version.body.ApiVersion).toBe('1.41');
    const images = await proxied(admin, 'GET', '/v1.41/images/json');
    expect(images.body.map((image: { RepoTags: string[] }) => image.RepoTags).flat()).toContain('busybox:latest');
    const containers = await proxied(admin, 'GET', '/v1.41/containers/json?all=1');
    const local = await agent.docker('ps', '-aq', '--no-trunc');
    expect(containers.body.map((container: { Id: string }) => container.Id).sort()).toEqual(
      local === '' ? [] : local.split('\n').sort(),
    );
  });

  it('runs a container and reads its logs through the server', async () => {
    const id = await run(admin, ['sh', '-c', 'echo hello from the proxy; echo oops >&2']);
    const waited = await proxied(admin, 'POST', `/v1.41/containers/${id}/wait`);
    expect(waited.body.StatusCode).toBe(0);
    const response = await fetch(`${server.baseUrl}${engine}/v1.41/containers/${id}/logs?stdout=1&stderr=1`, {
      headers: { cookie: admin.cookie },
    });
    expect(response.status).toBe(200);
    expect(demux(Buffer.from(await response.arrayBuffer()))).toEqual({
      stdout: 'hello from the proxy\n',
      stderr: 'oops\n',
    });
    const [row] = await query<{ actor_name: string; outcome: string; target: string; status: number }>(
      server.database.url,
      `SELECT actor_name, outcome, target, status FROM audit_events WHERE action = 'container.create' ORDER BY id DESC LIMIT 1`,
    );
    expect(row).toEqual({ actor_name: 'admin', outcome: 'success', target: id, status: 201 });
  });

  it('runs an exec session through the server both ways and audits it', async () => {
    const id = await run(admin, ['sleep', '300']);
    const exec = await proxied(admin, 'POST', `/v1.41/containers/${id}/exec`, {
      Cmd: ['sh', '-c', 'echo hello; cat; exit 3'],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    expect(exec.status).toBe(201);
    const session = await execOverUpgrade(exec.body.Id as string, admin, 'typed in\n');
    expect(session.head).toMatch(/^HTTP\/1\.1 101 UPGRADED/);
    expect(demux(session.output).stdout).toBe('hello\ntyped in\n');
    const row = await waitFor(async () => {
      const [found] = await query<{ outcome: string; details: { session?: Record<string, unknown> } }>(
        server.database.url,
        `SELECT outcome, details FROM audit_events WHERE action = 'exec.start' AND target = $1`,
        [exec.body.Id],
      );
      return found;
    }, 'the exec session audit row');
    expect(row.outcome).toBe('success');
    expect(row.details.session).toMatchObject({ bytesIn: 9, exitCode: 3 });
    expect(row.details.session?.bytesOut).toBe(session.output.length);
  });

  it('denies a viewer exec and a privileged create, and the audit log shows both', async () => {
    const id = await run(admin, ['sleep', '300']);
    const exec = await proxied(viewer, 'POST', `/v1.41/containers/${id}/exec`, { Cmd: ['id'] });
    expect(exec.status).toBe(403);
    expect(exec.body.message).toMatch(/container\.exec/);
    const create = await proxied(viewer, 'POST', '/v1.41/containers/create', {
      Image: 'busybox',
      HostConfig: { Privileged: true },
    });
    expect(create.status).toBe(403);
    const rows = await query<{ action: string; actor_name: string; outcome: string }>(
      server.database.url,
      `SELECT action, actor_name, outcome FROM audit_events WHERE actor_name = 'vera' AND outcome = 'denied' ORDER BY id`,
    );
    expect(rows).toEqual([
      { action: 'exec.create', actor_name: 'vera', outcome: 'denied' },
      { action: 'container.create', actor_name: 'vera', outcome: 'denied' },
    ]);
    // Reading is what a viewer may do.
    expect((await proxied(viewer, 'GET', `/v1.41/containers/${id}/json`)).status).toBe(200);
  });

  it('shares one followed log stream from the agent among console viewers', async () => {
    const id = await run(
      admin,
      ['sh', '-c', 'i=0; while true; do echo line $i; i=$((i+1)); sleep 0.05; done'],
      'ticker',
    );
    const links = server.app.get(AgentLinkRepository);
    // Calls of the steps before may still be closing: count the calls started from here on.
    const before = links.openCallCount(agent.hostId);
    const startedBefore = links.startedCallCount(agent.hostId);
    const consoles = await Promise.all([
      ConsoleClient.connect(server.baseUrl, admin),
      ConsoleClient.connect(server.baseUrl, viewer),
    ]);
    try {
      const path = `/v1.41/containers/${id}/logs?follow=1&stdout=1`;
      const opened = await Promise.all(
        consoles.map((console) => console.open({ hostId: agent.hostId, method: 'GET', path })),
      );
      expect(links.startedCallCount(agent.hostId) - startedBefore).toBe(1);
      expect(server.app.get(ConsoleEngineService).sharedLogCount).toBe(1);
      const texts = await Promise.all(
        opened.map(
          ({ stream }) =>
            new Promise<string>((resolve) => {
              let text = '';
              stream.on('data', (chunk: Buffer) => {
                text += demux(chunk).stdout;
                if ((text.match(/line \d+\n/g) ?? []).length >= 5) resolve(text);
              });
            }),
        ),
      );
      for (const text of texts) expect(text).toMatch(/line \d+\nline \d+\n/);
      // One viewer closes its stream; the other's console drops while following.
      opened[0].stream.destroy();
      consoles[1].close();
      await waitFor(
        () =>
          server.app.get(ConsoleEngineService).sharedLogCount === 0 && links.openCallCount(agent.hostId) <= before
            ? true
            : undefined,
        'the shared stream to close',
      );
      expect((await call(server.baseUrl, null, 'GET', '/api/health')).status).toBe(200);
    } finally {
      for (const console of consoles) console.close();
    }
  });

  it('runs an exec over the console socket with input and output', async () => {
    const id = await run(admin, ['sleep', '300']);
    const exec = await proxied(admin, 'POST', `/v1.41/containers/${id}/exec`, {
      Cmd: ['cat'],
      AttachStdin: true,
      AttachStdout: true,
    });
    const console = await ConsoleClient.connect(server.baseUrl, admin);
    try {
      const { head, stream } = await console.open({
        hostId: agent.hostId,
        method: 'POST',
        path: `/v1.41/exec/${exec.body.Id}/start`,
        body: { Detach: false, Tty: false },
      });
      expect(head).toMatchObject({ status: 101, upgraded: true });
      const output = readAll(stream);
      stream.end('echo through the console\n');
      expect(demux(await output).stdout).toBe('echo through the console\n');
    } finally {
      console.close();
    }
  });

  it('keeps memory bounded when a client stops reading a fast log stream', async () => {
    const line = 'x'.repeat(400);
    const id = await run(admin, ['sh', '-c', `yes ${line} | head -c 80000000; touch /written; sleep 300`]);
    const links = server.app.get(AgentLinkRepository);
    const agentBefore = await agent.rss();
    const url = new URL(`${server.baseUrl}${engine}/v1.41/containers/${id}/logs?follow=1&stdout=1`);
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(url, { headers: { cookie: admin.cookie } }, resolve).once('error', reject);
    });
    expect(response.statusCode).toBe(200);
    // Read a little, then stop reading for good.
    await new Promise((resolve) => response.once('data', resolve));
    response.pause();
    const serverBefore = process.memoryUsage().rss;
    // The container writes its 80 MB meanwhile.
    await waitFor(
      () =>
        agent.docker('exec', id, 'test', '-e', '/written').then(
          () => true,
          () => undefined,
        ),
      'the container to write its output',
      60_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const buffered = links.bufferedBytes(agent.hostId);
    const serverGrowth = process.memoryUsage().rss - serverBefore;
    const agentGrowth = (await agent.rss()) - agentBefore;
    response.destroy();
    expect(buffered).toBeLessThanOrEqual(2 * 256 * 1024);
    expect(serverGrowth).toBeLessThan(40 * 1024 * 1024);
    expect(agentGrowth).toBeLessThan(40 * 1024 * 1024);
  }, 120_000);

  it('lists the containers of the fleet with their host', async () => {
    await run(admin, ['sleep', '300'], 'fleet-web');
    const listed = await call(server.baseUrl, viewer, 'GET', '/api/containers?name=fleet-web');
    expect(listed.status).toBe(200);
    expect(listed.body.containers).toHaveLength(1);
    expect(listed.body.containers[0]).toMatchObject({
      hostId: agent.hostId,
      hostName: 'proxy-01',
      hostStatus: 'online',
      Names: ['/fleet-web'],
      State: 'running',
    });
    const host = listed.body.hosts.find((entry: { id: string }) => entry.id === agent.hostId);
    expect(host.counts.running).toBeGreaterThanOrEqual(1);
    expect((await call(server.baseUrl, viewer, 'GET', '/api/containers?state=paused')).body.containers).toEqual([]);
  });

  it('carries the events of the fleet to REST and console subscribers with their host', async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.baseUrl}/api/events`, {
      headers: { cookie: viewer.cookie },
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toContain('application/x-ndjson');
    const console = await ConsoleClient.connect(server.baseUrl, viewer);
    try {
      const viaConsole = new Promise<{ hostName: string; event: Record<string, unknown> }>((resolve) => {
        console.socket.on('fleet.event', (event) => {
          if (event.event.Type === 'container' && event.event.Action === 'create') resolve(event);
        });
      });
      expect(await console.socket.emitWithAck('fleet.events.subscribe')).toEqual({ ok: true });
      const reader = response.body!.getReader();
      const viaRest = (async () => {
        let text = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) throw new Error('the event stream ended');
          text += Buffer.from(value).toString('utf8');
          const line = text.split('\n').find((candidate) => candidate.includes('"Action":"create"'));
          if (line) return JSON.parse(line) as { hostId: string; hostName: string; event: Record<string, unknown> };
        }
      })();
      // The feed opens each host's stream within a moment; then a container is made.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const id = await run(admin, ['true'], 'evented');
      const [rest, live] = await Promise.all([viaRest, viaConsole]);
      expect(rest).toMatchObject({ hostId: agent.hostId, hostName: 'proxy-01', event: { Type: 'container', id } });
      expect(live).toMatchObject({ hostName: 'proxy-01', event: { Type: 'container', id } });
    } finally {
      controller.abort();
      console.close();
    }
  });

  it('shows a caller only the event types they may view', async () => {
    const created = await call(server.baseUrl, admin, 'POST', '/api/roles', {
      name: 'container-watcher',
      permissions: ['host.view', 'container.view'],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const watcher = await createUserWithRole(server.baseUrl, admin, 'wanda', 'container-watcher');
    const until = Math.ceil(Date.now() / 1000) + 1;
    const all = await fetch(`${server.baseUrl}${engine}/v1.41/events?since=0&until=${until}`, {
      headers: { cookie: admin.cookie },
    });
    const some = await fetch(`${server.baseUrl}${engine}/v1.41/events?since=0&until=${until}`, {
      headers: { cookie: watcher.cookie },
    });
    const types = async (answer: Response) =>
      new Set(
        (await answer.text())
          .split('\n')
          .filter(Boolean)
          .map((line) => (JSON.parse(line) as { Type: string }).Type),
      );
    expect([...(await types(all))].sort()).toEqual(expect.arrayContaining(['container', 'image']));
    expect([...(await types(some))]).toEqual(['container']);
  });

  it('attaches to a container over the console with a TTY, types into it and resizes it', async () => {
    const created = await proxied(admin, 'POST', '/v1.41/containers/create?name=typist', {
      Image: 'busybox',
      Cmd: ['sh'],
      Tty: true,
      OpenStdin: true,
      AttachStdin: true,
      AttachStdout: true,
    });
    expect(created.status).toBe(201);
    const id = created.body.Id as string;
    expect((await proxied(admin, 'POST', `/v1.41/containers/${id}/start`)).status).toBe(204);
    const console = await ConsoleClient.connect(server.baseUrl, admin);
    try {
      const { head, stream } = await console.open({
        hostId: agent.hostId,
        method: 'POST',
        path: `/v1.41/containers/${id}/attach?stream=1&stdin=1&stdout=1`,
      });
      expect(head).toMatchObject({ status: 101, upgraded: true });
      let seen = '';
      stream.on('data', (chunk: Buffer) => (seen += chunk.toString('utf8')));
      const resized = await proxied(admin, 'POST', `/v1.41/containers/${id}/resize?h=40&w=132`);
      expect(resized.status).toBe(200);
      stream.write('stty size; echo typed-$((6*7))\n');
      await waitFor(() => (seen.includes('typed-42') ? true : undefined), 'the echo of what was typed');
      expect(seen).toContain('40 132');
      stream.write('exit\n');
      await waitFor(() => (stream.destroyed || stream.readableEnded ? true : undefined), 'the attach to end');
    } finally {
      console.close();
    }
  });
});
