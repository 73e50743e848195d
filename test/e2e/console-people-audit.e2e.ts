import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort, repoRoot, type Started, startNode, waitForHealth } from '../support/processes.js';

const ADMIN_PASSWORD = 'e2e-admin-password';
const PEOPLE_PASSWORD = 'a long enough test password';
const serverScript = join(repoRoot, 'server/bin/skiff-server.js');
const artifacts = join(repoRoot, 'test/e2e/artifacts');
const UI_TIMEOUT = 15_000;

/** Waits until the locator's text matches, and returns it. */
async function textOf(locator: Locator, pattern: RegExp): Promise<string> {
  await expect
    .poll(async () => (await locator.count()) > 0 && (await locator.first().textContent()), {
      timeout: UI_TIMEOUT,
    })
    .toMatch(pattern);
  return (await locator.first().textContent()) ?? '';
}

async function signIn(page: Page, baseUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.url(), { timeout: UI_TIMEOUT }).toMatch(/\/dashboard$/);
}

async function choose(page: Page, field: string, option: string): Promise<void> {
  await page.getByRole('combobox', { name: field, exact: true }).click();
  await page.getByRole('option', { name: option, exact: true }).click();
}

/**
 * The People and Audit pages of the console, driven as a person would: an administrator makes
 * users, grants and a role through the UI, a viewer is told what he lacks, and the audit log shows
 * it all with its chain verified and exports it.
 */
describe('people and audit in the console', () => {
  let database: TestDatabase;
  let server: Started;
  let browser: Browser;
  let admin: Page;
  let baseUrl: string;

  beforeAll(async () => {
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
    await mkdir(artifacts, { recursive: true });
    browser = await launchChromium();
    admin = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await database?.drop();
  });

  it('lets the admin create olivia and victor on the Users tab', async () => {
    await signIn(admin, baseUrl, 'admin', ADMIN_PASSWORD);
    await admin.getByRole('link', { name: 'People' }).click();
    await expect.poll(() => admin.url(), { timeout: UI_TIMEOUT }).toMatch(/\/people\/users$/);

    // The form says what is wrong before the server is asked.
    await admin.getByLabel('Username').fill('olivia');
    await admin.getByLabel('Password', { exact: true }).fill('short');
    await admin.getByRole('button', { name: 'Create user' }).click();
    await textOf(admin.locator('mat-error'), /at least 12 characters/);

    for (const username of ['olivia', 'victor']) {
      await admin.getByLabel('Username').fill(username);
      await admin.getByLabel('Password', { exact: true }).fill(PEOPLE_PASSWORD);
      await admin.getByRole('button', { name: 'Create user' }).click();
      await textOf(admin.locator(`tr[data-username="${username}"]`), /enabled/);
    }

    // The server's refusal is shown in its words.
    await admin.getByLabel('Username').fill('olivia');
    await admin.getByLabel('Password', { exact: true }).fill(PEOPLE_PASSWORD);
    await admin.getByRole('button', { name: 'Create user' }).click();
    await textOf(admin.getByRole('alert'), /olivia/);
    await admin.screenshot({ path: join(artifacts, 'people-users.png'), fullPage: true });
  });

  it('gives olivia the operator role and victor the viewer role on the Grants tab', async () => {
    await admin.getByRole('tab', { name: 'Grants' }).click();
    await admin.getByRole('button', { name: 'Create grant' }).waitFor({ timeout: UI_TIMEOUT });
    for (const [username, role] of [
      ['olivia', 'operator'],
      ['victor', 'viewer'],
    ] as const) {
      await choose(admin, 'User', username);
      await choose(admin, 'Role', role);
      await admin.getByRole('button', { name: 'Create grant' }).click();
      await textOf(admin.locator(`tr[data-grant="${username}:${role}"]`), /every host/);
    }

    // The filters narrow the list to one user's grants.
    await choose(admin, 'Filter by user', 'victor');
    await expect.poll(() => admin.locator('tr[data-grant]').count(), { timeout: UI_TIMEOUT }).toBe(1);
    await admin.screenshot({ path: join(artifacts, 'people-grants.png'), fullPage: true });
    await admin.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => admin.locator('tr[data-grant]').count(), { timeout: UI_TIMEOUT }).toBeGreaterThan(1);
  });

  it('creates a custom role from permissions picked by area', async () => {
    await admin.getByRole('tab', { name: 'Roles' }).click();
    // Built-in roles are listed read-only, with their permissions.
    await textOf(admin.locator('li[data-role="viewer"]'), /built-in[\s\S]*container\.logs/);
    await admin.getByRole('button', { name: 'New role' }).click();
    await admin.getByLabel('Role name').fill('log reader');
    await admin.getByLabel('Description').fill('reads the logs of every container');
    for (const permission of ['host.view', 'container.view', 'container.logs']) {
      await admin.getByRole('checkbox', { name: new RegExp(`^${permission.replace('.', '\\.')}\\b`) }).check();
    }
    await admin.screenshot({ path: join(artifacts, 'people-role-editor.png'), fullPage: true });
    await admin.getByRole('button', { name: 'Create role' }).click();
    const role = await textOf(admin.locator('li[data-role="log reader"]'), /container\.logs/);
    expect(role).toContain('host.view');
    expect(role).not.toContain('container.exec');
    await admin.screenshot({ path: join(artifacts, 'people-roles.png'), fullPage: true });
  });

  it('makes a team with olivia in it and a host group chosen by label', async () => {
    await admin.getByRole('tab', { name: 'Teams' }).click();
    await admin.getByLabel('Team name').fill('payments');
    await admin.getByRole('button', { name: 'Create team' }).click();
    await admin.getByRole('button', { name: 'Edit team payments and its members' }).click();
    await choose(admin, 'User to add', 'olivia');
    await admin.getByRole('button', { name: 'Add member' }).click();
    await admin.getByRole('button', { name: 'Remove olivia from payments' }).waitFor({ timeout: UI_TIMEOUT });
    await admin.screenshot({ path: join(artifacts, 'people-teams.png'), fullPage: true });

    await admin.getByRole('tab', { name: 'Host groups' }).click();
    await admin.getByRole('button', { name: 'New host group' }).click();
    await admin.getByLabel('Group name').fill('production');
    await admin.getByRole('button', { name: 'Add label' }).click();
    await admin.getByLabel('Label key 1').fill('env');
    await admin.getByLabel('Label value 1').fill('prod');
    await admin.getByRole('button', { name: 'Create host group' }).click();
    const row = await textOf(admin.locator('tr', { hasText: 'production' }), /env=prod/);
    expect(row).toContain('none now');
    await admin.screenshot({ path: join(artifacts, 'people-host-groups.png'), fullPage: true });
  });

  it('creates an API token that is shown once and works as a bearer token', async () => {
    await admin.getByRole('tab', { name: 'My account' }).click();
    await admin.getByLabel('Token name').fill('ci deploys');
    await admin.getByRole('button', { name: 'Create token' }).click();
    const token = (await textOf(admin.getByTestId('token-value'), /\S{20,}/)).trim();
    await textOf(admin.locator('tr[data-token="ci deploys"]'), /all you may/);
    await admin.screenshot({ path: join(artifacts, 'people-account-token.png'), fullPage: true });

    const status = await admin.evaluate(async (bearer) => {
      const answer = await fetch('/api/auth/me', {
        headers: { Authorization: `Bearer ${bearer}` },
        credentials: 'omit',
      });
      return answer.status;
    }, token);
    expect(status).toBe(200);

    await admin.getByRole('button', { name: 'I have saved it' }).click();
    await admin.reload();
    await textOf(admin.locator('tr[data-token="ci deploys"]'), /ci deploys/);
    expect(await admin.getByTestId('token-value').count()).toBe(0);
    expect(await admin.content()).not.toContain(token);
  });

  it('tells victor, signed in through the UI, that he needs user.manage and audit.view', async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    try {
      const victor = await context.newPage();
      await signIn(victor, baseUrl, 'victor', PEOPLE_PASSWORD);
      await victor.getByRole('link', { name: 'People' }).click();
      await textOf(victor.getByTestId('people-forbidden'), /You need user\.manage/);
      // Only his own account is within reach.
      expect(await victor.getByRole('tab', { name: 'Users' }).count()).toBe(0);
      await victor.getByRole('tab', { name: 'My account' }).click();
      await victor.getByLabel('Token name').waitFor({ timeout: UI_TIMEOUT });
      await victor.getByRole('link', { name: 'People' }).click();
      await textOf(victor.getByTestId('people-forbidden'), /You need user\.manage/);
      await victor.screenshot({ path: join(artifacts, 'people-forbidden.png'), fullPage: true });

      await victor.getByRole('link', { name: 'Audit' }).click();
      await textOf(victor.getByTestId('audit-forbidden'), /You need audit\.view/);
    } finally {
      await context.close();
    }
  });

  it("lists the admin's user.create and grant.create rows, verifies the chain and exports CSV", async () => {
    await admin.getByRole('link', { name: 'Audit' }).click();
    await textOf(admin.getByTestId('chain-status'), /Chain verified/);

    for (const action of ['user.create', 'grant.create']) {
      await admin.getByLabel('Action').fill(action);
      await admin.getByRole('button', { name: 'Search' }).click();
      const rows = admin.locator(`tr[data-action="${action}"]`);
      await expect.poll(() => rows.locator('td.actor', { hasText: 'admin' }).count(), { timeout: UI_TIMEOUT }).toBe(2);
      // Only rows of that action are shown (one query, so a re-render between two counts cannot skew it).
      const others = admin.locator(`tr[data-action]:not([data-action="${action}"])`);
      await expect.poll(() => others.count(), { timeout: UI_TIMEOUT }).toBe(0);
      expect(await rows.count()).toBeGreaterThanOrEqual(2);
    }

    // A prefix filter and the row detail, with every field and the hashes of the chain.
    await admin.getByLabel('Action').fill('grant.*');
    await admin.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => admin.locator('tr[data-action="grant.create"]').count(), { timeout: UI_TIMEOUT }).toBe(2);
    await admin
      .locator('tr[data-action="grant.create"]')
      .first()
      .getByRole('button', { name: /^Details/ })
      .click();
    const detail = await textOf(admin.getByRole('dialog'), /Hash of the row before/);
    expect(detail).toContain('success');
    await admin.screenshot({ path: join(artifacts, 'audit-detail.png'), fullPage: true });
    await admin.getByRole('button', { name: 'Close' }).click();

    // Victor's visits to People and Audit asked the server for nothing he may not have.
    await admin.getByLabel('Action').fill('');
    await choose(admin, 'Outcome', 'denied');
    await admin.getByRole('button', { name: 'Search' }).click();
    await textOf(admin.getByTestId('audit-empty'), /No audit rows match/);

    await admin.getByRole('button', { name: 'Clear filters' }).click();
    await expect
      .poll(() => admin.locator('tr[data-action="user.create"]').count(), { timeout: UI_TIMEOUT })
      .toBeGreaterThan(1);
    await admin.screenshot({ path: join(artifacts, 'audit-log.png'), fullPage: true });

    const [download] = await Promise.all([
      admin.waitForEvent('download', { timeout: UI_TIMEOUT }),
      admin.getByRole('link', { name: 'Export the matching rows as CSV' }).click(),
    ]);
    const file = await readFile(await download.path(), 'utf8');
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    expect(file).toContain('user.create');
    expect(file).toContain('grant.create');

    // The sessions view: no exec or attach has happened here.
    await admin.locator('mat-button-toggle', { hasText: 'Exec and attach sessions' }).locator('button').click();
    await textOf(admin.getByTestId('audit-empty'), /No exec or attach sessions/);
  });
});
