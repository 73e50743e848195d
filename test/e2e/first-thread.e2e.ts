import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort, repoRoot, type Started, startNode, waitForHealth } from '../support/processes.js';

const PASSWORD = 'e2e-admin-password';
const serverScript = join(repoRoot, 'server/bin/skiff-server.js');
const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');

/**
 * The first thread through the product: the built server on a real PostgreSQL, the built agent
 * dialling in, and a person in Chromium signing in and watching the host.
 */
describe('a user signs in and watches a host whose agent dialled in', () => {
  let database: TestDatabase;
  let server: Started;
  let browser: Browser;
  let page: Page;
  let agentRoot: string;
  let baseUrl: string;
  let serverEnv: NodeJS.ProcessEnv;
  const agents: Started[] = [];

  const startAgent = (extra: string[] = []) => {
    const agent = startNode(
      agentScript,
      [
        '--server',
        baseUrl,
        '--root',
        agentRoot,
        '--socket',
        join(agentRoot, 'docker.sock'),
        '--name',
        'e2e-host',
        ...extra,
      ],
      {},
    );
    agents.push(agent);
    return agent;
  };
  const hostRow = () => page.locator('tr[data-host-id]', { hasText: 'e2e-host' });

  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseAdminUrl'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    serverEnv = {
      DATABASE_URL: database.url,
      PORT: String(port),
      SKIFF_LISTEN: '127.0.0.1',
      SKIFF_ADMIN_PASSWORD: PASSWORD,
    };
    server = startNode(serverScript, [], serverEnv);
    await waitForHealth(baseUrl);
    agentRoot = await mkdtemp(join(tmpdir(), 'skiff-e2e-agent-'));
    browser = await launchChromium();
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    for (const agent of agents) await agent.stop('SIGKILL');
    await server?.stop();
    await database?.drop();
    if (agentRoot) await rm(agentRoot, { recursive: true, force: true });
  });

  it('refuses a wrong password on the sign-in page with the reason', async () => {
    await page.goto(`${baseUrl}/hosts`);
    await expect.poll(() => page.url()).toContain('/login');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('wrong username or password');
  });

  it('shows the host online once its agent has enrolled with a join token', async () => {
    const token = spawnSync(process.execPath, [serverScript, 'join-token', 'create'], {
      env: { ...process.env, ...serverEnv },
      encoding: 'utf8',
    });
    expect(token.status, token.stderr).toBe(0);
    const agent = startAgent(['--join-token', token.stdout.trim()]);
    await agent.waitForOutput(/connected to .* as host e2e-host/);

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.url()).toMatch(/\/hosts$/);
    await expect.poll(() => hostRow().locator('[data-status]').textContent(), { timeout: 10_000 }).toContain('online');
    // The inventory the agent reported is on the row.
    expect(await hostRow().textContent()).toContain(hostname());
  });

  it('shows the host offline within 10 seconds of its agent freezing, without a reload', async () => {
    const agent = agents.at(-1)!;
    const stoppedAt = Date.now();
    agent.child.kill('SIGSTOP');
    try {
      await expect
        .poll(() => hostRow().locator('[data-status]').textContent(), { timeout: 10_000, interval: 200 })
        .toContain('offline');
      expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    } finally {
      agent.child.kill('SIGCONT');
    }
    // The link comes back by itself and the console follows.
    await expect.poll(() => hostRow().locator('[data-status]').textContent(), { timeout: 20_000 }).toContain('online');
  }, 40_000);

  it('shows the host offline when its agent stops, and online when it starts again without a token', async () => {
    const exitCode = await agents.at(-1)!.stop('SIGTERM');
    expect(exitCode).toBe(0);
    await expect.poll(() => hostRow().locator('[data-status]').textContent(), { timeout: 10_000 }).toContain('offline');

    const again = startAgent();
    await again.waitForOutput(/connected to .* as host e2e-host/);
    await expect.poll(() => hostRow().locator('[data-status]').textContent(), { timeout: 10_000 }).toContain('online');
  });

  it('removes a revoked host from the console and its agent stops for good', async () => {
    const agent = agents.at(-1)!;
    const hostId = await hostRow().getAttribute('data-host-id');
    const csrf = await page.evaluate(async () => {
      const me = (await (await fetch('/api/auth/me')).json()) as { csrfToken: string };
      return me.csrfToken;
    });
    const status = await page.evaluate(
      async ([id, token]) =>
        (await fetch(`/api/hosts/${id}`, { method: 'DELETE', headers: { 'X-CSRF-Token': token } })).status,
      [hostId, csrf] as const,
    );
    expect(status).toBe(204);
    await expect.poll(() => hostRow().count(), { timeout: 5_000 }).toBe(0);
    expect(await agent.exited).toBe(3);
    expect(agent.output()).toMatch(/revoked/);
  });
});
