import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { type BusyboxImage, buildBusyboxImage } from '../support/busybox-image.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { PEOPLE_PASSWORD } from '../support/people.js';
import { freePort, repoRoot, type Started, startNode, waitForHealth } from '../support/processes.js';
import { call, signInAs } from '../support/rest-client.js';

const run = promisify(execFile);
const ADMIN_PASSWORD = 'e2e-admin-password';
const HOST_NAME = 'e2e-story-host';
const OPERATOR = 'olwen';
const VIEWER = 'vidar';
const CONTAINER = 'story';
/**
 * Prints a numbered line about twice a second and burns a little CPU between lines, so both the
 * log and the CPU chart have something new to show; exits at once on SIGTERM (sh as PID 1 would
 * otherwise ignore it until the engine's 10 s grace period ends).
 */
const COMMAND =
  'sh -c \'trap "exit 0" TERM; i=0; while :; do i=$((i+1)); echo "tick $i"; ' +
  "j=0; while [ $j -lt 20000 ]; do j=$((j+1)); done; sleep 0.5; done'";
const UI_TIMEOUT = 15_000;
const serverScript = join(repoRoot, 'server/bin/skiff-server.js');
const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');
const artifacts = join(repoRoot, 'test/e2e/artifacts');

/** The largest `tick N` the log view shows. */
async function lastTick(page: Page): Promise<number> {
  const texts = await page.getByTestId('log-lines').locator('.line[data-stream="stdout"] .text').allTextContents();
  return Math.max(0, ...texts.map((text) => Number(/tick (\d+)/.exec(text)?.[1] ?? 0)));
}

/** The y coordinates of a chart's line: 100 is the chart's floor (a value of 0). */
async function chartHeights(chart: Locator): Promise<number[]> {
  const points = (await chart.locator('polyline').first().getAttribute('points')) ?? '';
  return points
    .split(' ')
    .filter(Boolean)
    .map((point) => Number(point.split(',')[1]));
}

async function choose(page: Page, field: string, option: string): Promise<void> {
  await page.getByRole('combobox', { name: field, exact: true }).click();
  await page.getByRole('option', { name: option, exact: true }).click();
}

/**
 * The story the web console's issue is verified by, in one run against the built server on
 * PostgreSQL, a real agent with busybox and headless Chromium: the admin makes an operator and a
 * viewer on the People pages; the operator runs a container from the form, follows its log,
 * types in its terminal, watches its stats, and later stops and removes it; the viewer sees it but
 * may not exec, not even by calling the API or the console socket by hand; the audit page shows it all.
 */
describe('the console, from people to containers to audit', () => {
  let database: TestDatabase;
  let server: Started;
  let agent: Started | undefined;
  let agentRoot: string | undefined;
  let busybox: BusyboxImage | undefined;
  let browser: Browser;
  let adminContext: BrowserContext;
  let operatorContext: BrowserContext;
  let viewerContext: BrowserContext;
  let admin: Page;
  let operator: Page;
  let baseUrl: string;
  let hostId: string;
  let containerId: string;
  let docker: (...args: string[]) => Promise<string>;

  const screenshot = (on: Page, name: string) =>
    on.screenshot({ path: join(artifacts, `story-${name}.png`), fullPage: true });
  const nav = (on: Page, name: string) =>
    on.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
  const containerRow = (on: Page) => on.locator(`tr[data-container-name="${CONTAINER}"]`);

  const signIn = async (context: BrowserContext, username: string, password: string): Promise<Page> => {
    const page = await context.newPage();
    await page.goto(`${baseUrl}/login`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/dashboard$/, { timeout: UI_TIMEOUT });
    await expect.poll(() => page.getByTestId('current-user').textContent()).toBe(username);
    return page;
  };

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

    // Enrolling the host is the hosts test's story; here it is only the stage.
    const session = await signInAs(baseUrl, 'admin', ADMIN_PASSWORD);
    const token = await call(baseUrl, session, 'POST', '/api/join-tokens', {});
    expect(token.status).toBe(201);
    agentRoot = await mkdtemp(join(tmpdir(), 'skiff-e2e-story-'));
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
      const hosts = await call(baseUrl, session, 'GET', '/api/hosts');
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
    const viewport = { width: 1400, height: 900 };
    adminContext = await browser.newContext({ viewport });
    operatorContext = await browser.newContext({ viewport });
    viewerContext = await browser.newContext({ viewport });
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

  it('shows the admin the fleet on the dashboard and the hosts page', async () => {
    admin = await signIn(adminContext, 'admin', ADMIN_PASSWORD);
    const hostItem = admin.getByTestId('dashboard-hosts').locator(`li[data-host-id="${hostId}"]`);
    await expect.poll(() => hostItem.locator('[data-status]').textContent(), { timeout: UI_TIMEOUT }).toBe('online');
    await screenshot(admin, 'dashboard');

    await nav(admin, 'Hosts').click();
    await admin.waitForURL(/\/hosts$/);
    const hostRow = admin.locator(`tr[data-host-id="${hostId}"]`);
    await expect.poll(() => hostRow.textContent(), { timeout: UI_TIMEOUT }).toContain(HOST_NAME);
    expect(await hostRow.locator('[data-status]').textContent()).toBe('online');
    await screenshot(admin, 'hosts');
  });

  it('lets the admin make an operator and a viewer on the People pages', async () => {
    await nav(admin, 'People').click();
    await admin.waitForURL(/\/people\/users$/);
    for (const username of [OPERATOR, VIEWER]) {
      await admin.getByLabel('Username').fill(username);
      await admin.getByLabel('Password', { exact: true }).fill(PEOPLE_PASSWORD);
      await admin.getByRole('button', { name: 'Create user' }).click();
      await expect
        .poll(() => admin.locator(`tr[data-username="${username}"]`).textContent(), { timeout: UI_TIMEOUT })
        .toContain('enabled');
    }
    await screenshot(admin, 'people-users');

    await admin.getByRole('tab', { name: 'Grants' }).click();
    await admin.getByRole('button', { name: 'Create grant' }).waitFor({ timeout: UI_TIMEOUT });
    for (const [username, role] of [
      [OPERATOR, 'operator'],
      [VIEWER, 'viewer'],
    ] as const) {
      await choose(admin, 'User', username);
      await choose(admin, 'Role', role);
      await admin.getByRole('button', { name: 'Create grant' }).click();
      await expect
        .poll(() => admin.locator(`tr[data-grant="${username}:${role}"]`).textContent(), { timeout: UI_TIMEOUT })
        .toContain('every host');
    }
    await screenshot(admin, 'people');
  });

  it('lets the operator run busybox from the form and lands on the container', async () => {
    operator = await signIn(operatorContext, OPERATOR, PEOPLE_PASSWORD);
    await nav(operator, 'Containers').click();
    await operator.waitForURL(/\/containers$/);
    await operator.getByTestId('run-a-container').click();
    await operator.waitForURL(/\/run$/);
    await expect
      .poll(() => operator.getByTestId('run-host').textContent(), { timeout: UI_TIMEOUT })
      .toContain(HOST_NAME);
    await operator.getByLabel('Image').fill('busybox');
    await operator.keyboard.press('Escape');
    await operator.getByLabel('Name', { exact: true }).fill(CONTAINER);
    await operator.getByLabel('Command').fill(COMMAND);
    await expect.poll(() => operator.getByTestId('docker-run-line').textContent()).toContain(`--name ${CONTAINER}`);
    expect(await operator.getByTestId('docker-run-line').textContent()).toContain('busybox sh -c');
    expect(await operator.getByTestId('run-problems').count()).toBe(0);
    await screenshot(operator, 'run-form');

    await operator.getByRole('button', { name: 'Create and start' }).click();
    await operator.waitForURL(new RegExp(`/containers/${hostId}/[0-9a-f]{12,}$`), { timeout: 20_000 });
    await expect
      .poll(() => operator.getByTestId('container-state').textContent(), { timeout: UI_TIMEOUT })
      .toBe('running');
    const inspected = JSON.parse(await docker('inspect', CONTAINER)) as Array<{
      Id: string;
      Config: { Cmd: string[] };
    }>;
    containerId = inspected[0].Id;
    expect(operator.url()).toContain(containerId.slice(0, 12));
    expect(inspected[0].Config.Cmd.slice(0, 2)).toEqual(['sh', '-c']);
  });

  it("follows the container's log as new lines arrive", async () => {
    await expect.poll(() => lastTick(operator), { timeout: UI_TIMEOUT }).toBeGreaterThan(0);
    const seen = await lastTick(operator);
    // Lines the container prints after the page opened arrive without a reload.
    await expect.poll(() => lastTick(operator), { timeout: UI_TIMEOUT }).toBeGreaterThan(seen + 1);
    await screenshot(operator, 'container-logs');
  });

  it('runs `echo hello` in the terminal and shows hello', async () => {
    await operator.getByRole('tab', { name: 'Terminal' }).click();
    await operator.getByTestId('terminal-connect').click();
    await expect
      .poll(() => operator.locator('.terminal-status').textContent(), { timeout: UI_TIMEOUT })
      .toContain('Connected');
    await operator.getByTestId('terminal').click();
    await operator.keyboard.type('echo hello');
    await operator.keyboard.press('Enter');
    const rows = async () =>
      (await operator.getByTestId('terminal').locator('.xterm-rows > div').allTextContents()).map((text) =>
        text.replace(/\u00a0/g, ' ').trim(),
      );
    // The answer is a row of its own: the typed command is `echo hello`, not `hello`.
    await expect.poll(rows, { timeout: UI_TIMEOUT }).toContain('hello');
    await screenshot(operator, 'container-terminal');
  });

  it('moves the stats chart while the container works', async () => {
    await operator.getByRole('tab', { name: 'Stats' }).click();
    const cpu = operator.getByTestId('stats-charts').locator('svg').first();
    const pointCount = async () => Number(await cpu.getAttribute('data-points'));
    await expect.poll(pointCount, { timeout: UI_TIMEOUT }).toBeGreaterThan(1);
    const before = { count: await pointCount(), line: await cpu.locator('polyline').first().getAttribute('points') };
    // New points arrive and redraw the line ...
    await expect.poll(pointCount, { timeout: UI_TIMEOUT }).toBeGreaterThan(before.count);
    expect(await cpu.locator('polyline').first().getAttribute('points')).not.toBe(before.line);
    // ... and they are not all zero: the loop between log lines shows as CPU use.
    await expect.poll(async () => Math.min(...(await chartHeights(cpu))), { timeout: UI_TIMEOUT }).toBeLessThan(100);
    // A few more points, so the saved picture shows a line rather than a dot.
    await expect.poll(pointCount, { timeout: UI_TIMEOUT }).toBeGreaterThanOrEqual(5);
    await screenshot(operator, 'container-stats');
  });

  it('shows the operator the containers list, images, volumes and networks', async () => {
    await nav(operator, 'Containers').click();
    await operator.waitForURL(/\/containers$/);
    await expect.poll(() => containerRow(operator).textContent(), { timeout: UI_TIMEOUT }).toContain('running');
    expect(await containerRow(operator).textContent()).toContain(HOST_NAME);
    await screenshot(operator, 'containers');

    await nav(operator, 'Images').click();
    await operator.waitForURL(/\/images$/);
    await expect
      .poll(() => operator.locator('tr[data-image-tags~="busybox:latest"]').count(), { timeout: UI_TIMEOUT })
      .toBe(1);
    await screenshot(operator, 'images');

    await nav(operator, 'Volumes').click();
    await operator.waitForURL(/\/volumes$/);
    await operator.getByTestId('volumes-empty').waitFor({ timeout: UI_TIMEOUT });
    await screenshot(operator, 'volumes');

    await nav(operator, 'Networks').click();
    await operator.waitForURL(/\/networks$/);
    // The engine's built-in networks, each inspectable.
    const hostNetwork = operator.locator('tr[data-network-name="host"]');
    await hostNetwork.waitFor({ timeout: UI_TIMEOUT });
    expect(await operator.locator('tr[data-network-name="none"]').count()).toBe(1);
    await hostNetwork.getByRole('button', { name: 'Inspect' }).click();
    await expect.poll(() => operator.locator('tr.detail').textContent(), { timeout: UI_TIMEOUT }).toContain('"Driver"');
    expect(await operator.getByRole('alert').count()).toBe(0);
    await screenshot(operator, 'networks');
  });

  it('shows the viewer the running container with no terminal or stop, and refuses an exec by hand', async () => {
    const viewer = await signIn(viewerContext, VIEWER, PEOPLE_PASSWORD);
    await nav(viewer, 'Containers').click();
    await viewer.waitForURL(/\/containers$/);
    await expect.poll(() => containerRow(viewer).textContent(), { timeout: UI_TIMEOUT }).toContain('running');
    expect(await viewer.getByRole('toolbar', { name: 'Actions on the selected containers' }).count()).toBe(0);
    expect(await viewer.getByTestId('containers-read-only').textContent()).toContain('container.manage');

    await containerRow(viewer).getByRole('link', { name: CONTAINER }).click();
    await viewer.waitForURL(new RegExp(`/containers/${hostId}/`));
    await expect
      .poll(() => viewer.getByTestId('container-state').textContent(), { timeout: UI_TIMEOUT })
      .toBe('running');
    // The log is theirs to read, so the page is the real one, not an error.
    await expect.poll(() => lastTick(viewer), { timeout: UI_TIMEOUT }).toBeGreaterThan(0);
    await viewer.getByRole('tab', { name: 'Stats' }).waitFor();
    expect(await viewer.getByRole('tab', { name: 'Terminal' }).count()).toBe(0);
    expect(await viewer.getByRole('button', { name: /^Stop/ }).count()).toBe(0);
    expect(await viewer.getByRole('button', { name: /^Remove/ }).count()).toBe(0);
    // The missing actions are explained, not just gone.
    await viewer.getByText('Read-only access').hover();
    await expect
      .poll(() => viewer.locator('.mat-mdc-tooltip').textContent(), { timeout: UI_TIMEOUT })
      .toContain('You need the container.manage permission on this host');
    await screenshot(viewer, 'container-detail-viewer');

    // The REST proxy, called from the page with the session's cookie and CSRF token as the console sends them.
    const rest = await viewer.evaluate(
      async ({ host, container }) => {
        const me = (await (await fetch('/api/auth/me')).json()) as { csrfToken: string };
        const answer = await fetch(`/api/hosts/${host}/engine/v1.41/containers/${container}/exec`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken },
          body: JSON.stringify({ AttachStdout: true, AttachStderr: true, Cmd: ['id'] }),
        });
        return { status: answer.status, body: await answer.text() };
      },
      { host: hostId, container: containerId },
    );
    expect(rest.status, rest.body).toBe(403);
    // Refused for the permission, not for a missing CSRF token.
    expect(rest.body).toContain('container.exec');

    // The console socket, spoken by hand (Engine.IO 4 packets): an exec create and an exec start.
    const socketUrl = `${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
    const answers = await viewer.evaluate(
      ({ url, host, container }) =>
        new Promise<string[]>((resolve, reject) => {
          const requests = [
            { method: 'POST', path: `/v1.41/containers/${container}/exec`, body: { Cmd: ['sh'], Tty: true } },
            { method: 'POST', path: '/v1.41/exec/0123456789abcdef/start', body: { Detach: false, Tty: true } },
          ];
          const acks: string[] = [];
          const socket = new WebSocket(url);
          const timer = setTimeout(() => {
            socket.close();
            reject(new Error(`the console socket answered ${acks.length} of ${requests.length} calls`));
          }, 10_000);
          socket.onmessage = (event: { data: unknown }) => {
            const packet = String(event.data);
            if (packet.startsWith('0{')) socket.send('40/console,');
            else if (packet === '2') socket.send('3');
            else if (packet.startsWith('44/console,')) reject(new Error(`refused the namespace: ${packet}`));
            else if (packet.startsWith('40/console,'))
              requests.forEach((request, index) =>
                socket.send(
                  `42/console,${index + 1}${JSON.stringify(['engine.open', { ...request, hostId: host, stream: index + 1 }])}`,
                ),
              );
            else if (packet.startsWith('43/console,')) {
              acks.push(packet);
              if (acks.length === requests.length) {
                clearTimeout(timer);
                socket.close();
                resolve(acks.sort());
              }
            }
          };
          socket.onerror = () => reject(new Error('the console socket failed'));
        }),
      { url: socketUrl, host: hostId, container: containerId },
    );
    const results = answers.map((packet) => JSON.parse(packet.replace(/^43\/console,\d+/, '')) as unknown);
    expect(results).toEqual([
      [{ ok: false, error: { kind: 'forbidden', message: expect.stringContaining('container.exec') as unknown } }],
      [{ ok: false, error: { kind: 'forbidden', message: expect.stringContaining('container.exec') as unknown } }],
    ]);

    // Leave the page before closing it, so its log stream ends as a viewer's would.
    await nav(viewer, 'Containers').click();
    await viewer.waitForURL(/\/containers$/);
    await viewer.close();
  });

  it('lets the operator stop and remove the container from its page', async () => {
    await nav(operator, 'Containers').click();
    await operator.waitForURL(/\/containers$/);
    await containerRow(operator).getByRole('link', { name: CONTAINER }).click();
    await expect
      .poll(() => operator.getByTestId('container-state').textContent(), { timeout: UI_TIMEOUT })
      .toBe('running');
    await operator.getByRole('button', { name: `Stop container ${CONTAINER}` }).click();
    await expect
      .poll(() => operator.getByTestId('container-state').textContent(), { timeout: UI_TIMEOUT })
      .toBe('exited');
    expect(await operator.locator('.action-message').textContent()).toContain('stopped');
    operator.once('dialog', (dialog) => void dialog.accept());
    await operator.getByRole('button', { name: `Remove container ${CONTAINER}` }).click();
    await operator.waitForURL(/\/containers$/, { timeout: UI_TIMEOUT });
    await expect.poll(() => containerRow(operator).count(), { timeout: UI_TIMEOUT }).toBe(0);
    expect(await docker('ps', '-aq')).toBe('');
  });

  it("shows the admin the operator's actions and the viewer's refused execs in the audit log", async () => {
    await nav(admin, 'Audit').click();
    await admin.waitForURL(/\/audit$/);
    await expect
      .poll(() => admin.getByTestId('chain-status').textContent(), { timeout: UI_TIMEOUT })
      .toContain('Chain verified');

    await admin.getByLabel('Actor').fill(OPERATOR);
    await admin.getByRole('button', { name: 'Search' }).click();
    const row = (action: string) => admin.locator(`tr[data-action="${action}"]`);
    for (const action of ['container.create', 'container.start', 'container.stop', 'container.remove']) {
      await expect.poll(() => row(action).count(), { timeout: UI_TIMEOUT }).toBe(1);
      expect(await row(action).locator('td.actor').textContent()).toBe(OPERATOR);
      expect(await row(action).locator('td.target').textContent()).toBe(containerId);
      expect(await row(action).locator('[data-outcome]').textContent()).toBe('success');
    }
    for (const action of ['exec.create', 'exec.start']) {
      await expect.poll(() => row(action).count(), { timeout: UI_TIMEOUT }).toBe(1);
      expect(await row(action).locator('[data-outcome]').textContent()).toBe('success');
    }
    expect(await row('exec.create').locator('td.target').textContent()).toBe(containerId);
    await screenshot(admin, 'audit');

    // The terminal session, with the bytes typed into it.
    await admin.locator('mat-button-toggle', { hasText: 'Exec and attach sessions' }).locator('button').click();
    await admin.getByLabel('Actor').fill(OPERATOR);
    await admin.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => row('exec.start').count(), { timeout: UI_TIMEOUT }).toBe(1);
    const session = (await row('exec.start').locator('td').allTextContents()).map((text) => text.trim());
    // at, actor, action, host, target, duration, bytes in, bytes out, exit code, details
    expect(session[1]).toBe(OPERATOR);
    expect(session[3]).toBe(HOST_NAME);
    expect(session[6]).toMatch(/^[1-9]\d*(\.\d+)? (B|KiB)$/);
    await screenshot(admin, 'audit-sessions');

    await admin.locator('mat-button-toggle', { hasText: 'All events' }).locator('button').click();
    await admin.getByLabel('Actor').fill(VIEWER);
    await choose(admin, 'Outcome', 'denied');
    await admin.getByRole('button', { name: 'Search' }).click();
    // One refused exec create through REST, one through the socket, and the refused exec start.
    await expect.poll(() => row('exec.create').count(), { timeout: UI_TIMEOUT }).toBe(2);
    expect(await row('exec.start').count()).toBe(1);
    for (const target of await row('exec.create').locator('td.target').allTextContents()) {
      expect(target).toBe(containerId);
    }
    for (const outcome of await admin.locator('tr[data-action] [data-outcome]').allTextContents()) {
      expect(outcome).toBe('denied');
    }
    await screenshot(admin, 'audit-denied');
    expect(server.child.exitCode).toBeNull();
  });
});
