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
const HOST_NAME = 'e2e-run-host';
const OPERATOR = 'otto';
const serverScript = join(repoRoot, 'server/bin/skiff-server.js');
const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');
const artifacts = join(repoRoot, 'test/e2e/artifacts');

/**
 * The run form, images and volumes of the console, end to end: the built server on PostgreSQL, a
 * real agent with busybox, and an operator in Chromium.
 */
describe('the console runs a container from its form and shows images and volumes', () => {
  let database: TestDatabase;
  let server: Started;
  let agent: Started | undefined;
  let agentRoot: string | undefined;
  let busybox: BusyboxImage | undefined;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let baseUrl: string;
  let admin: Session;
  let hostId: string;
  let docker: (...args: string[]) => Promise<string>;

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
    await createUserWithRole(baseUrl, admin, OPERATOR, 'operator');

    const token = await call(baseUrl, admin, 'POST', '/api/join-tokens', {});
    expect(token.status).toBe(201);
    agentRoot = await mkdtemp(join(tmpdir(), 'skiff-e2e-run-'));
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

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    await page.goto(`${baseUrl}/containers`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill(OPERATOR);
    await page.getByLabel('Password').fill(PEOPLE_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/containers$/);
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

  it('opens the run form from the containers list and refuses an empty one with clear messages', async () => {
    await page.getByTestId('run-a-container').click();
    await page.waitForURL(/\/run$/);
    // The only host the operator may run on is chosen for them.
    await expect.poll(() => page.getByTestId('run-host').textContent(), { timeout: 15_000 }).toContain(HOST_NAME);
    await page.getByRole('button', { name: 'Create and start' }).click();
    await expect.poll(() => page.getByTestId('run-problems').textContent()).toContain('Choose or type an image');
    // An operator lacks container.privileged: host bind mounts and privileged mode are offered disabled, with why.
    expect(await page.getByRole('button', { name: 'Add a bind mount' }).isDisabled()).toBe(true);
    expect(await page.getByTestId('privileged-reason').textContent()).toContain('container.privileged');
    expect(await page.getByRole('checkbox', { name: /Privileged/ }).isDisabled()).toBe(true);
  });

  it('runs busybox from the form, shows the docker run line and lands on the container with its log', async () => {
    await page.getByLabel('Image').fill('busybox');
    await page.keyboard.press('Escape');
    await page.getByLabel('Name', { exact: true }).fill('from-form');
    await page.getByLabel('Command').fill('sh -c "echo ran from the form; sleep 300"');
    await page.getByRole('button', { name: 'Add a variable' }).click();
    await page.getByRole('textbox', { name: 'Variable', exact: true }).fill('GREETING');
    await page.getByRole('textbox', { name: 'Value', exact: true }).fill('hello there');
    const line = page.getByTestId('docker-run-line');
    await expect.poll(() => line.textContent()).toContain('--name from-form');
    const text = (await line.textContent()) ?? '';
    expect(text).toContain("-e 'GREETING=hello there'");
    expect(text).toContain("busybox sh -c 'echo ran from the form; sleep 300'");
    expect(await page.getByTestId('run-problems').count()).toBe(0);
    await screenshot(page, 'run-form');

    await page.getByRole('button', { name: 'Create and start' }).click();
    await page.waitForURL(new RegExp(`/containers/${hostId}/[0-9a-f]{12,}$`), { timeout: 20_000 });
    await expect.poll(() => page.getByTestId('container-state').textContent(), { timeout: 15_000 }).toBe('running');
    await expect
      .poll(() => page.getByTestId('log-lines').textContent(), { timeout: 15_000 })
      .toContain('ran from the form');
    const inspected = JSON.parse(await docker('inspect', 'from-form')) as Array<{ Config: { Env: string[] } }>;
    expect(inspected[0].Config.Env).toContain('GREETING=hello there');
    await screenshot(page, 'run-form-container');
  });

  it('lists busybox:latest on the images page and inspects it', async () => {
    await page.getByRole('link', { name: 'Images' }).first().click();
    await page.waitForURL(/\/images$/);
    const busyboxRow = page.locator('tr[data-image-tags~="busybox:latest"]');
    await expect.poll(() => busyboxRow.count(), { timeout: 15_000 }).toBe(1);
    await busyboxRow.getByRole('button', { name: 'Inspect' }).click();
    await expect.poll(() => page.getByTestId('raw-json').count()).toBe(1);
    expect(await page.locator('skiff-json-view dl').textContent()).toContain('busybox:latest');
    await screenshot(page, 'images');
  });

  it('creates a volume and lists it', async () => {
    await page.getByRole('link', { name: 'Volumes' }).first().click();
    await page.waitForURL(/\/volumes$/);
    await page.getByLabel('Volume name').fill('formvol');
    await page.getByRole('button', { name: 'Create volume' }).click();
    const volumeRow = page.locator('tr[data-volume-name="formvol"]');
    await expect.poll(() => volumeRow.count(), { timeout: 15_000 }).toBe(1);
    await volumeRow.getByRole('button', { name: 'Inspect' }).click();
    await expect.poll(() => page.getByTestId('volume-users').textContent()).toContain('No container uses this volume');
    await screenshot(page, 'volumes');
    expect(server.child.exitCode).toBeNull();
  });
});
