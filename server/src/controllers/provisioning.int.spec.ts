import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { query } from '../../../test/support/database.js';
import { createUser, grant, PEOPLE_PASSWORD } from '../../../test/support/people.js';
import {
  call,
  type Session,
  signIn,
  signInAs,
  startTestServer,
  type TestServer,
} from '../../../test/support/test-server.js';

/** The provisioning API's door: who may use it, what it accepts, and how it is documented. */
describe('the provisioning API', () => {
  let server: TestServer;
  let admin: Session;
  let operator: Session;

  const as = (session: Session | null, method: string, path: string, body?: unknown) =>
    call(server.baseUrl, session, method, path, body);
  const install = {
    targets: [{ address: '192.0.2.10', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` }],
    credentials: { username: 'root', password: 'secret-password' },
  };

  beforeAll(async () => {
    server = await startTestServer(inject('databaseAdminUrl'));
    admin = await signIn(server.baseUrl);
    const operatorId = await createUser(server.baseUrl, admin, 'olga');
    await grant(server.baseUrl, admin, { userId: operatorId }, 'operator');
    operator = await signInAs(server.baseUrl, 'olga', PEOPLE_PASSWORD);
  });
  afterAll(() => server?.close());

  it('needs host.manage on every host for every route, and records the refusals', async () => {
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/provisioning/bundle'],
      ['POST', '/api/provisioning/probe', { address: '192.0.2.10' }],
      ['POST', '/api/provisioning/jobs', install],
      ['GET', '/api/provisioning/jobs'],
      ['GET', '/api/provisioning/targets'],
      ['POST', '/api/provisioning/manual-install', {}],
      ['POST', '/api/provisioning/targets/00000000-0000-4000-8000-000000000000/upgrade', {}],
      ['POST', '/api/provisioning/targets/00000000-0000-4000-8000-000000000000/uninstall', {}],
      ['DELETE', '/api/provisioning/targets/00000000-0000-4000-8000-000000000000'],
    ];
    for (const [method, path, body] of routes) {
      expect((await as(operator, method, path, body)).status, `${method} ${path}`).toBe(403);
      expect((await as(null, method, path, body)).status, `${method} ${path} without a session`).toBe(401);
    }
    const denied = await query<{ outcome: string; actor_name: string; details: unknown }>(
      server.database.url,
      `SELECT outcome, actor_name, details FROM audit_events WHERE action = 'http.POST /api/provisioning/jobs' AND actor_name = 'olga'`,
    );
    expect(denied.map((row) => row.outcome)).toEqual(['denied']);
    expect(JSON.stringify(denied)).not.toContain('secret-password');
  });

  it('validates what it is given before it contacts any host', async () => {
    const bad = [
      { ...install, targets: [] },
      { ...install, targets: [{ address: '-oProxyCommand=touch /tmp/x' }] },
      { ...install, targets: [{ address: 'host; reboot' }] },
      { ...install, targets: [{ address: 'h', port: 70000 }] },
      { ...install, targets: [{ address: 'h', hostKeyFingerprint: 'MD5:aa' }] },
      { ...install, credentials: { username: 'root; id', password: 'x' } },
      { ...install, credentials: { username: 'root' } },
      { ...install, extra: true },
    ];
    for (const body of bad) {
      const answer = await as(admin, 'POST', '/api/provisioning/jobs', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
    }
    const duplicate = await as(admin, 'POST', '/api/provisioning/jobs', {
      ...install,
      targets: [install.targets[0], install.targets[0]],
    });
    expect(duplicate.body.message).toBe('192.0.2.10:22 is listed twice');
  });

  it('makes a manual install command with a fresh one-time join token', async () => {
    const made = await as(admin, 'POST', '/api/provisioning/manual-install', { ttlSeconds: 600 });
    expect(made.status).toBe(201);
    expect(made.body.command).toBe(
      `curl -fsSL ${server.baseUrl}/api/provisioning/install.sh | sudo sh -s -- --join-token ${made.body.token}`,
    );
    const script = await fetch(`${server.baseUrl}/api/provisioning/install.sh`);
    expect(script.status).toBe(200);
    expect(await script.text()).toContain(`SERVER='${server.baseUrl}'`);
    const [row] = await query<{ action: string }>(
      server.database.url,
      `SELECT action FROM audit_events ORDER BY id DESC LIMIT 1`,
    );
    expect(row.action).toBe('join-token.create');
  });

  it('closes, on the next start, a job a server stop cut off: the step it was in failed, the rest skipped, audited', async () => {
    // What a server killed during the upload of an install leaves in the database.
    const steps = [
      { name: 'connect', title: 'Connect over SSH', status: 'succeeded', output: 'connected\n' },
      { name: 'preflight', title: 'Check the host', status: 'succeeded', output: '' },
      { name: 'upload', title: 'Upload the agent bundle', status: 'running', output: '' },
      { name: 'verify', title: 'Verify the bundle', status: 'pending', output: '' },
    ];
    const [cutOff] = await query<{ id: string }>(
      server.database.url,
      `INSERT INTO provisioning_jobs (batch_id, kind, address, port, status, steps)
       VALUES (gen_random_uuid(), 'install', '192.0.2.44', 22, 'running', $1::jsonb) RETURNING id`,
      [JSON.stringify(steps)],
    );
    const restarted = await startTestServer(inject('databaseAdminUrl'), { database: server.database });
    try {
      const job = await call(restarted.baseUrl, admin, 'GET', `/api/provisioning/jobs/${cutOff.id}`);
      expect(job.status).toBe(200);
      expect(job.body.status).toBe('failed');
      expect(job.body.finishedAt).not.toBeNull();
      expect(job.body.error).toBe(
        'the server stopped while this install ran (during "Upload the agent bundle"): the host may hold part of the ' +
          'install; look at it, uninstall it (keeping data if it had any) and install again',
      );
      expect(job.body.steps.map((step: { status: string }) => step.status)).toEqual([
        'succeeded',
        'succeeded',
        'failed',
        'skipped',
      ]);
      expect(job.body.steps[2].error).toBe('the server stopped during this step');
      const [audited] = await query<{
        outcome: string;
        actor_type: string;
        target: string;
        details: { jobId: string };
      }>(
        server.database.url,
        `SELECT outcome, actor_type, target, details FROM audit_events WHERE action = 'provisioning.install'`,
      );
      expect(audited).toMatchObject({ outcome: 'failure', actor_type: 'system', target: '192.0.2.44:22' });
      expect(audited.details.jobId).toBe(cutOff.id);
    } finally {
      await restarted.close();
    }
  });

  it('serves the bundle checksum per architecture and refuses an unknown one', async () => {
    const unknown = await fetch(`${server.baseUrl}/api/provisioning/bundle.tar.gz.sha256?arch=sparc`);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { message: string }).message).toBe(
      "no agent bundle for architecture 'sparc': ask for x64 or arm64",
    );
    const x64 = await fetch(`${server.baseUrl}/api/provisioning/bundle.tar.gz.sha256`);
    expect(x64.status).toBe(200);
    expect(await x64.text()).toMatch(/^[0-9a-f]{64} {2}skiff-agent-linux-x64\.tar\.gz\n$/);
    const arm64 = await fetch(`${server.baseUrl}/api/provisioning/bundle.tar.gz.sha256?arch=arm64`);
    expect(arm64.status).toBe(200);
    expect(await arm64.text()).toMatch(/^[0-9a-f]{64} {2}skiff-agent-linux-arm64\.tar\.gz\n$/);
  }, 180_000);

  it('documents every route in the OpenAPI document', async () => {
    const docs = await as(null, 'GET', '/api/docs-json');
    const paths = Object.entries(
      docs.body.paths as Record<string, Record<string, { summary?: string; tags?: string[] }>>,
    ).filter(([path]) => path.startsWith('/api/provisioning'));
    expect(paths.map(([path]) => path).sort()).toEqual([
      '/api/provisioning/bundle',
      '/api/provisioning/bundle.tar.gz',
      '/api/provisioning/bundle.tar.gz.sha256',
      '/api/provisioning/install.sh',
      '/api/provisioning/jobs',
      '/api/provisioning/jobs/{id}',
      '/api/provisioning/manual-install',
      '/api/provisioning/probe',
      '/api/provisioning/skiff-host.sh',
      '/api/provisioning/targets',
      '/api/provisioning/targets/{id}',
      '/api/provisioning/targets/{id}/uninstall',
      '/api/provisioning/targets/{id}/upgrade',
    ]);
    for (const [path, operations] of paths) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(operation.summary, `${method} ${path}`).toBeTruthy();
        expect(operation.tags).toEqual(['provisioning']);
      }
    }
  });
});
