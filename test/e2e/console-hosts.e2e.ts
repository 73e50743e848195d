import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { PEOPLE_PASSWORD } from '../support/people.js';
import { call, type Session, signInAs } from '../support/rest-client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort, repoRoot, type Started, startNode, waitForHealth } from '../support/processes.js';

const ADMIN_PASSWORD = 'e2e-admin-password';
const HOST_NAME = 'e2e-hosts-host';
const TOTP_USER = 'tessa';
const serverScript = join(repoRoot, 'server/bin/skiff-server.js');
const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');
const artifacts = join(repoRoot, 'test/e2e/artifacts');
/** The agent's state lives on a tmpfs this small, so the test can fill its disk. */
const STATE_DISK_MIB = 64;
const run = promisify(execFile);

/** RFC 4648 base32, as authenticator apps read the secret. */
function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text.replace(/[\s=]/g, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`"${char}" is not base32`);
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP (HMAC-SHA1, 30 s, 6 digits) of the step `offset` steps from now. */
function totp(secret: Buffer, offset = 0): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offset));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/**
 * The hosts side of the console, end to end: the built server on PostgreSQL and a real agent;
 * the dashboard, enrolment, a host's page, two-factor sign-in and the theme in Chromium.
 */
describe('the console shows the fleet at a glance, enrols and manages hosts, and signs in with TOTP', () => {
  let database: TestDatabase;
  let server: Started;
  let agent: Started | undefined;
  let agentRoot: string | undefined;
  let stateDiskMounted = false;
  let browser: Browser;
  let adminContext: BrowserContext;
  let page: Page;
  let baseUrl: string;
  let admin: Session;
  let hostId: string;

  const screenshot = (on: Page, name: string) =>
    on.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  const signInThroughForm = async (on: Page, username: string, password: string) => {
    await on.getByLabel('Username').fill(username);
    await on.getByLabel('Password').fill(password);
    await on.getByRole('button', { name: 'Sign in' }).click();
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
    admin = await signInAs(baseUrl, 'admin', ADMIN_PASSWORD);
    const user = await call(baseUrl, admin, 'POST', '/api/users', { username: TOTP_USER, password: PEOPLE_PASSWORD });
    expect(user.status, JSON.stringify(user.body)).toBe(201);

    const token = await call(baseUrl, admin, 'POST', '/api/join-tokens', {});
    expect(token.status).toBe(201);
    agentRoot = await mkdtemp(join(tmpdir(), 'skiff-e2e-hosts-'));
    await run('mount', ['-t', 'tmpfs', '-o', `size=${STATE_DISK_MIB}m,mode=0711`, 'skiff-e2e-state', agentRoot]);
    stateDiskMounted = true;
    await chmod(agentRoot, 0o711);
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
        join(agentRoot, 'docker.sock'),
        '--name',
        HOST_NAME,
      ],
      {},
    );
    await agent.waitForOutput(/connected to .* as host/);
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

    browser = await launchChromium();
    adminContext = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: 'light' });
    page = await adminContext.newPage();
    await page.goto(`${baseUrl}/`);
    await page.waitForURL(/\/login/);
    await signInThroughForm(page, 'admin', ADMIN_PASSWORD);
    await page.waitForURL(/\/dashboard$/);
  });

  afterAll(async () => {
    await browser?.close();
    await agent?.stop('SIGTERM');
    await server?.stop();
    await database?.drop();
    if (stateDiskMounted && agentRoot) await run('umount', [agentRoot]);
    if (agentRoot) await rm(agentRoot, { recursive: true, force: true });
  });

  it('opens on the dashboard, with the host online', async () => {
    const hostItem = page.getByTestId('dashboard-hosts').locator(`li[data-host-id="${hostId}"]`);
    await expect.poll(() => hostItem.locator('[data-status]').textContent(), { timeout: 10_000 }).toBe('online');
    expect(await hostItem.textContent()).toContain(HOST_NAME);
    expect(await page.getByTestId('hosts-online').textContent()).toContain('1');
    // Only for those with audit.view, which the admin has.
    await expect
      .poll(() => page.getByTestId('dashboard-audit').locator('li').count(), { timeout: 10_000 })
      .toBeGreaterThan(0);
    // The host's heartbeats carry its memory and disk use; neither runs short yet.
    await expect
      .poll(() => page.getByTestId('no-pressure').textContent(), { timeout: 10_000 })
      .toContain('1 reporting');
    await screenshot(page, 'hosts-dashboard');
  });

  it('shows a host running short of disk, live on the dashboard and its page, until space is freed', async () => {
    // Fill the agent's state disk past 90%; its next heartbeat reports it and the console updates.
    const filler = join(agentRoot as string, 'filler');
    await writeFile(filler, Buffer.alloc((STATE_DISK_MIB - 4) * 1024 * 1024, 1));
    try {
      const pressured = page.locator(`.pressure-list li[data-host-id="${hostId}"]`);
      await expect.poll(() => pressured.locator('[data-resource="disk"]').count(), { timeout: 15_000 }).toBe(1);
      expect(await pressured.textContent()).toContain(HOST_NAME);
      expect(await pressured.locator('[data-resource="disk"]').textContent()).toMatch(
        /free of 64(\.0)? MiB \(9\d% used\)/,
      );
      // Memory on this machine is not short, so only the disk is named.
      expect(await pressured.locator('[data-resource="memory"]').count()).toBe(0);
      await screenshot(page, 'hosts-dashboard-pressure');

      // The host's own page shows the same figures with the warning.
      await page.goto(`${baseUrl}/hosts/${hostId}`);
      const disk = page.getByTestId('host-usage').locator('[data-resource="disk"]');
      await expect.poll(() => disk.textContent(), { timeout: 10_000 }).toContain('running short');
      expect(await page.getByTestId('host-usage').locator('[data-resource="memory"]').textContent()).toContain(
        'available of',
      );
      await page.goto(`${baseUrl}/dashboard`);
    } finally {
      await rm(filler, { force: true });
    }
    // Freed again: the next heartbeat clears the warning without a reload.
    await expect.poll(() => page.getByTestId('no-pressure').count(), { timeout: 15_000 }).toBe(1);
    expect(await page.locator(`.pressure-list li[data-host-id="${hostId}"]`).count()).toBe(0);
  });

  it('switches between the light and the dark theme, and remembers the choice', async () => {
    const theme = () => page.locator('html').getAttribute('data-theme');
    await expect.poll(theme).toBe('light');
    const toggle = page.getByRole('button', { name: 'Switch to dark theme' });
    await toggle.click();
    await expect.poll(theme).toBe('dark');
    await expect
      .poll(async () => (await page.locator('html').getAttribute('class'))?.split(/\s+/))
      .toContain('theme-dark');
    await screenshot(page, 'hosts-dashboard-dark');
    await page.reload();
    await expect.poll(theme).toBe('dark');
    await page.getByRole('button', { name: 'Switch to light theme' }).click();
    await expect.poll(theme).toBe('light');
  });

  it('enrols a host: the dialog shows the command with its join token and when it expires', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Hosts' }).click();
    await page.waitForURL(/\/hosts$/);
    await page.getByRole('button', { name: 'Enrol a host' }).click();
    const command = page.getByTestId('join-command');
    await expect.poll(() => command.textContent(), { timeout: 10_000 }).toContain('--join-token');
    expect(await page.getByTestId('join-token-expiry').getAttribute('datetime')).toMatch(/^\d{4}-/);
    expect(await page.getByRole('button', { name: 'Copy command' }).isVisible()).toBe(true);
    await screenshot(page, 'hosts-enrol-dialog');
    await page.getByRole('button', { name: 'Done' }).click();
    await expect.poll(() => page.getByTestId('join-command').count()).toBe(0);
  });

  it("shows a host's inventory and lets the admin set a label", async () => {
    const detail = await call(baseUrl, admin, 'GET', `/api/hosts/${hostId}`);
    await page.getByRole('link', { name: HOST_NAME }).click();
    await page.waitForURL(new RegExp(`/hosts/${hostId}$`));
    const inventory = page.getByTestId('host-inventory');
    await expect.poll(() => inventory.textContent(), { timeout: 10_000 }).toContain(detail.body.inventory.hostname);
    expect(await inventory.textContent()).toContain(detail.body.inventory.kernel);
    expect(await page.getByTestId('host-status').textContent()).toBe('online');

    const labels = page.getByTestId('host-labels');
    await labels.getByRole('button', { name: 'Add label' }).click();
    await labels.getByLabel('Key').last().fill('env');
    await labels.getByLabel('Value').last().fill('prod');
    await labels.getByRole('button', { name: 'Save labels' }).click();
    await expect
      .poll(async () => (await call(baseUrl, admin, 'GET', `/api/hosts/${hostId}`)).body.labels, { timeout: 10_000 })
      .toEqual({ env: 'prod' });

    // Still there on a fresh load of the page.
    await page.reload();
    const row = page.getByTestId('host-labels').locator('[data-label-key="env"]');
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.getByLabel('Value').inputValue()).toBe('prod');
    await screenshot(page, 'hosts-detail');
  });

  it('asks for the TOTP code of an account that has one, and signs in with it', async () => {
    const tessa = await signInAs(baseUrl, TOTP_USER, PEOPLE_PASSWORD);
    const started = await call(baseUrl, tessa, 'POST', '/api/me/totp');
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const secret = base32Decode(started.body.secret as string);
    const confirmed = await call(baseUrl, tessa, 'POST', '/api/me/totp/confirm', { code: totp(secret) });
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(204);

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    try {
      const login = await context.newPage();
      await login.goto(`${baseUrl}/login`);
      await signInThroughForm(login, TOTP_USER, PEOPLE_PASSWORD);
      const code = login.getByLabel('Authentication code');
      await expect.poll(() => code.isVisible(), { timeout: 10_000 }).toBe(true);
      expect(await login.getByRole('alert').textContent()).toContain('authenticator app');
      await screenshot(login, 'hosts-totp-sign-in');

      // A wrong code is refused with the server's reason; the password is kept.
      await code.fill(totp(secret, 5));
      await login.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => login.getByRole('alert').textContent()).toContain('wrong or already used TOTP code');
      expect(login.url()).toContain('/login');

      // The confirming code was used up; the next step's code is within the window and fresh.
      await code.fill(totp(secret, 1));
      await login.getByRole('button', { name: 'Sign in' }).click();
      await login.waitForURL(/\/dashboard$/, { timeout: 10_000 });
      expect(await login.getByTestId('current-user').textContent()).toBe(TOTP_USER);
      // No audit.view: no audit entries on the dashboard.
      expect(await login.getByTestId('dashboard-audit').count()).toBe(0);

      // My account says two-factor sign-in is on, and offers to turn it off rather than set it up.
      await login.goto(`${baseUrl}/people/account`);
      await expect.poll(() => login.getByTestId('totp-status').textContent(), { timeout: 10_000 }).toContain('is on');
      expect(await login.getByRole('button', { name: 'Set up two-factor sign-in' }).count()).toBe(0);
      expect(await login.getByRole('button', { name: 'Turn off two-factor sign-in' }).count()).toBe(1);
      // Signed in, the sign-in page leads back to the dashboard.
      await login.goto(`${baseUrl}/login`);
      await login.waitForURL(/\/dashboard$/, { timeout: 10_000 });
    } finally {
      await context.close();
    }
  });

  it('folds the navigation into a menu on a narrow screen', async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    await page.goto(`${baseUrl}/dashboard`);
    const menu = page.getByRole('button', { name: 'Open navigation menu' });
    await expect.poll(() => menu.isVisible(), { timeout: 10_000 }).toBe(true);
    await menu.click();
    await page.getByRole('menuitem', { name: 'Hosts' }).click();
    await page.waitForURL(/\/hosts$/);
    await screenshot(page, 'hosts-narrow');
  });
});
