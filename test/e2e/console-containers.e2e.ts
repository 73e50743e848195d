import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { call, type Session, signInAs } from '../support/rest-client.js';
import { createUserWithRole, PEOPLE_PASSWORD } from '../support/people.js';
import { type BusyboxImage, buildBusyboxImage } from '../support/busybox-image.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort, repoRoot, type Started, startNode, waitForHealth } from '../support/processes.js';

const run = promisify(execFile);
const ADMIN_PASSWORD = 'e2e-admin-password';
const HOST_NAME = 'e2e-containers-host';
const CONTAINER = 'ticker';
const serverScript = join(repoRoot, 'server/bin/skiff-server.js');
const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');
const artifacts = join(repoRoot, 'test/e2e/artifacts');

/**
 * The containers of the console, end to end: the built server on PostgreSQL, a real agent with
 * busybox, and an operator and a viewer in Chromium.
 */
describe('the console shows, follows and runs the containers of the fleet', () => {
  let database: TestDatabase;
  let server: Started;
  let agent: Started | undefined;
  let agentRoot: string | undefined;
  let busybox: BusyboxImage | undefined;
  let browser: Browser;
  let operator: BrowserContext;
  let viewer: BrowserContext;
  let page: Page;
  let baseUrl: string;
  let admin: Session;
  let hostId: string;
  let containerId: string;
  let docker: (...args: string[]) => Promise<string>;

  const signInPage = async (context: BrowserContext, username: string): Promise<Page> => {
    const signedIn = await context.newPage();
    await signedIn.goto(`${baseUrl}/containers`);
    await signedIn.waitForURL(/\/login/);
    await signedIn.getByLabel('Username').fill(username);
    await signedIn.getByLabel('Password').fill(PEOPLE_PASSWORD);
    await signedIn.getByRole('button', { name: 'Sign in' }).click();
    await signedIn.waitForURL(/\/containers$/);
    return signedIn;
  };
  const row = (on: Page) => on.locator(`tr[data-container-name="${CONTAINER}"]`);
  const screenshot = (on: Page, name: string) =>
    on.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('a real agent needs root: run the tests as root');
    await mkdir(artifacts, { recursive: true });
    database = await createTestDatabase(inject('databaseAdminUrl'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    server = startNode(serverScript, [], {
      DATABASE_URL: database.url,
      PORT: String(port),
      SKIFF_LISTEN: '127.0.0.1',
      SKIFF_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    await waitForHealth(baseUrl);
    admin = await signInAs(baseUrl, 'admin', ADMIN_PASSWORD);
    await createUserWithRole(baseUrl, admin, 'olga', 'operator');
    await createUserWithRole(baseUrl, admin, 'victor', 'viewer');

    const token = await call(baseUrl, admin, 'POST', '/api/join-tokens', {});
    expect(token.status).toBe(201);
    agentRoot = await mkdtemp(join(tmpdir(), 'skiff-e2e-containers-'));
    await chmod(agentRoot, 0o711);
    const socketPath = join(agentRoot, 'docker.sock');
    agent = startNode(
      agentScript,
      [
        '--server',
        baseUrl,
        '--join-token',
        token.body.token as string,
        '--root',
        agentRoot,
        '--socket',
        socketPath,
        '--name',
        HOST_NAME,
      ],
      {},
    );
    await agent.waitForOutput(/connected to .* as host/);
    docker = async (...args: string[]) =>
      (
        await run('docker', args, { env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` }, timeout: 60_000 })
      ).stdout.trim();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const hosts = await call(baseUrl, admin, 'GET', '/api/hosts');
      const host = (hosts.body as Array<{ id: string; name: string; status: string }>).find(
        (candidate) => candidate.name === HOST_NAME && candidate.status === 'online',
      );
      if (host) {
        hostId = host.id;
        break;
      }
      if (Date.now() > deadline) throw new Error(`host ${HOST_NAME} did not come online:\n${agent.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    busybox = await buildBusyboxImage({ format: 'docker-save', tag: 'busybox:latest' });
    await docker('load', '--input', busybox.archivePath);

    // Through the REST proxy, as automation would: a container that prints a line every 100 ms.
    const engine = `/api/hosts/${hostId}/engine/v1.41`;
    const created = await call(baseUrl, admin, 'POST', `${engine}/containers/create?name=${CONTAINER}`, {
      Image: 'busybox:latest',
      Cmd: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo "tick $i"; echo "warn $i" >&2; sleep 0.1; done'],
      Env: ['MODE=demo', 'DB_PASSWORD=hunter2'],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    containerId = created.body.Id as string;
    const started = await call(baseUrl, admin, 'POST', `${engine}/containers/${containerId}/start`);
    expect(started.status).toBe(204);

    browser = await launchChromium();
    operator = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    viewer = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await signInPage(operator, 'olga');
  });

  afterAll(async () => {
    await browser?.close();
    if (docker) {
      const ids = await docker('ps', '-aq').catch(() => '');
      if (ids) await docker('rm', '-f', ...ids.split('\n')).catch(() => undefined);
    }
    await agent?.stop('SIGTERM');
    await server?.stop();
    await database?.drop();
    await busybox?.cleanup();
    if (agentRoot) await rm(agentRoot, { recursive: true, force: true });
  });

  it('lists the container with its host, live', async () => {
    await expect.poll(() => row(page).count(), { timeout: 15_000 }).toBe(1);
    const text = await row(page).textContent();
    expect(text).toContain(HOST_NAME);
    expect(text).toContain('running');
    expect(await page.locator(`.host-counts li[data-host-id="${hostId}"]`).textContent()).toContain('1 running of 1');
    await screenshot(page, 'container-list');
  });

  it('opens the container and follows its log as lines arrive', async () => {
    await row(page).getByRole('link', { name: CONTAINER }).click();
    await expect.poll(() => page.url()).toContain(`/containers/${hostId}/${containerId}`);
    await expect.poll(() => page.getByTestId('container-state').textContent(), { timeout: 10_000 }).toBe('running');
    const lines = page.getByTestId('log-lines').locator('.line');
    await expect.poll(() => lines.count(), { timeout: 15_000 }).toBeGreaterThan(3);
    const ticks = async () => {
      const texts = await page.getByTestId('log-lines').locator('.line[data-stream="stdout"] .text').allTextContents();
      return Math.max(0, ...texts.map((text) => Number(/tick (\d+)/.exec(text)?.[1] ?? 0)));
    };
    const before = await ticks();
    expect(before).toBeGreaterThan(0);
    // Live: later lines arrive without a reload.
    await expect.poll(ticks, { timeout: 10_000 }).toBeGreaterThan(before + 5);
    // stdout and stderr are told apart.
    expect(await page.getByTestId('log-lines').locator('.line[data-stream="stderr"]').count()).toBeGreaterThan(0);
    await page.locator('mat-button-toggle', { hasText: 'stderr' }).locator('button').click();
    await expect.poll(() => page.getByTestId('log-lines').locator('.line[data-stream="stdout"]').count()).toBe(0);
    await page.locator('mat-button-toggle', { hasText: 'All' }).locator('button').click();
    await screenshot(page, 'container-logs');
  });

  it('runs a shell in the Terminal tab', async () => {
    await page.getByRole('tab', { name: 'Terminal' }).click();
    await page.getByTestId('terminal-connect').click();
    await expect.poll(() => page.locator('.terminal-status').textContent(), { timeout: 15_000 }).toContain('Connected');
    await page.getByTestId('terminal').click();
    await page.keyboard.type('echo hello');
    await page.keyboard.press('Enter');
    const rows = () => page.getByTestId('terminal').locator('.xterm-rows > div').allTextContents();
    // The answer is a row of its own (the typed command is `echo hello`, not `hello`).
    await expect
      .poll(async () => (await rows()).map((text) => text.replace(/\u00a0/g, ' ').trim()), { timeout: 10_000 })
      .toContain('hello');
    await screenshot(page, 'container-terminal');
  });

  it('draws live stats', async () => {
    await page.getByRole('tab', { name: 'Stats' }).click();
    const cpu = page.getByTestId('stats-charts').locator('svg').first();
    await expect
      .poll(async () => Number(await cpu.getAttribute('data-points')), { timeout: 15_000 })
      .toBeGreaterThan(1);
    expect(await cpu.locator('polyline').getAttribute('points')).toMatch(/\d+(\.\d+)?,\d+(\.\d+)? \d/);
    await screenshot(page, 'container-stats');
  });

  it('masks secret-looking environment values on the Inspect tab', async () => {
    await page.getByRole('tab', { name: 'Inspect' }).click();
    const env = page.locator('section[aria-labelledby="env-heading"]');
    await expect.poll(() => env.textContent()).toContain('DB_PASSWORD');
    expect(await env.textContent()).not.toContain('hunter2');
    expect(await env.textContent()).toContain('demo');
    await screenshot(page, 'container-inspect');
  });

  it('shows a viewer the container without a terminal or lifecycle actions', async () => {
    const viewerPage = await signInPage(viewer, 'victor');
    await expect.poll(() => row(viewerPage).count(), { timeout: 15_000 }).toBe(1);
    expect(await viewerPage.getByRole('toolbar', { name: 'Actions on the selected containers' }).count()).toBe(0);
    expect(await viewerPage.getByTestId('containers-read-only').textContent()).toContain('container.manage');
    await row(viewerPage).getByRole('link', { name: CONTAINER }).click();
    await expect
      .poll(() => viewerPage.getByTestId('container-state').textContent(), { timeout: 10_000 })
      .toBe('running');
    await expect.poll(() => viewerPage.getByRole('tab', { name: 'Logs' }).count()).toBe(1);
    expect(await viewerPage.getByRole('tab', { name: 'Terminal' }).count()).toBe(0);
    expect(await viewerPage.getByRole('button', { name: /^Stop/ }).count()).toBe(0);
    expect(await viewerPage.getByText('Read-only access').count()).toBe(1);
    // Logs are theirs to read.
    await expect
      .poll(() => viewerPage.getByTestId('log-lines').locator('.line').count(), { timeout: 15_000 })
      .toBeGreaterThan(0);
    await screenshot(viewerPage, 'container-detail-viewer');
    // Leaving the page closes its log stream. (Closing the tab with a followed log open drops the
    // socket instead, which the server does not survive yet: see the report.)
    await viewerPage.getByRole('link', { name: 'Containers' }).first().click();
    await viewerPage.waitForURL(/\/containers$/);
    await viewerPage.close();
  });

  it('stops and removes the container from the page', async () => {
    await page.getByRole('button', { name: `Stop container ${CONTAINER}` }).click();
    // busybox sh as PID 1 ignores SIGTERM: the engine kills it after its 10 s grace period.
    await expect.poll(() => page.getByTestId('container-state').textContent(), { timeout: 30_000 }).toBe('exited');
    expect(await page.locator('.action-message').textContent()).toContain('stopped');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: `Remove container ${CONTAINER}` }).click();
    await expect.poll(() => page.url(), { timeout: 10_000 }).toMatch(/\/containers$/);
    await expect.poll(() => row(page).count(), { timeout: 10_000 }).toBe(0);
    expect(await docker('ps', '-aq')).toBe('');
    expect(server.child.exitCode).toBeNull();
    await screenshot(page, 'container-list-after-remove');
  });
});
