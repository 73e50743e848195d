import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { call, type Session, signInAs } from '../support/rest-client.js';
import { createUserWithRole, PEOPLE_PASSWORD } from '../support/people.js';
import { type BusyboxImage, buildBusyboxImage, packEntries } from '../support/busybox-image.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort, repoRoot, type Started, startNode, waitForHealth } from '../support/processes.js';

const run = promisify(execFile);
const ADMIN_PASSWORD = 'e2e-admin-password';
const OPERATOR = 'olga';
const HOST_A = 'e2e-manage-a';
const HOST_B = 'e2e-manage-b';
/** A second name of busybox:latest, for one container; it sorts before busybox:latest. */
const SLEEPER_IMAGE = 'app/sleeper:1';
/** A small image of its own (docker import), that no container uses. */
const NOTES_IMAGE = 'scratch/notes:1';
const UPLOADED_IMAGE = 'uploaded/busybox:v1';
const serverScript = join(repoRoot, 'server/bin/skiff-server.js');
const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');
const artifacts = join(repoRoot, 'test/e2e/artifacts');
const UI_TIMEOUT = 15_000;

interface Agent {
  name: string;
  hostId: string;
  process: Started;
  root: string;
  /** The docker CLI against this agent's socket. */
  docker: (...args: string[]) => Promise<string>;
}

/**
 * Managing the fleet from the console, end to end: the built server on PostgreSQL, two real agents
 * (two hosts) with busybox, and an operator in Chromium who filters and acts on containers, reads a
 * log, and manages volumes and images. Each outcome is checked against the engine itself.
 */
describe('the console manages the containers, logs, volumes and images of the fleet', () => {
  let database: TestDatabase;
  let server: Started;
  const agents: Agent[] = [];
  let hostA: Agent;
  let hostB: Agent;
  let busybox: BusyboxImage | undefined;
  let uploaded: BusyboxImage | undefined;
  let scratch: string | undefined;
  let browser: Browser;
  let page: Page;
  let baseUrl: string;
  let admin: Session;
  const ids: Record<string, string> = {};

  const screenshot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  const startAgent = async (name: string): Promise<Agent> => {
    const token = await call(baseUrl, admin, 'POST', '/api/join-tokens', {});
    expect(token.status).toBe(201);
    const root = await mkdtemp(join(tmpdir(), 'skiff-e2e-manage-'));
    await chmod(root, 0o711);
    const socketPath = join(root, 'docker.sock');
    const agentArgs = ['--server', baseUrl, '--join-token', token.body.token as string];
    const started = startNode(agentScript, [...agentArgs, '--root', root, '--socket', socketPath, '--name', name], {});
    const agent: Agent = {
      name,
      hostId: '',
      process: started,
      root,
      docker: async (...args: string[]) =>
        (
          await run('docker', args, { env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` }, timeout: 60_000 })
        ).stdout.trim(),
    };
    agents.push(agent);
    await started.waitForOutput(/connected to .* as host/);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const hosts = await call(baseUrl, admin, 'GET', '/api/hosts');
      const host = (hosts.body as Array<{ id: string; name: string; status: string }>).find(
        (candidate) => candidate.name === name && candidate.status === 'online',
      );
      if (host) {
        agent.hostId = host.id;
        return agent;
      }
      if (Date.now() > deadline) throw new Error(`host ${name} did not come online:\n${started.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  /** `docker inspect` of one object, parsed. */
  const inspect = async (agent: Agent, ...args: string[]) =>
    (JSON.parse(await agent.docker('inspect', ...args)) as Array<Record<string, any>>)[0];
  const containerState = async (name: string) => (await inspect(hostA, '--type', 'container', name)).State;

  // The containers list. Names are read in one go: rows come and go as the list reloads.
  const listedNames = async () =>
    (await page.locator('tbody tr[data-container-name] td.name a').allTextContents()).sort();
  const containerRow = (name: string) => page.locator(`tr[data-container-name="${name}"]`);
  const pick = async (label: string, option: string) => {
    await page.getByRole('combobox', { name: label }).click();
    await page.getByRole('option', { name: option, exact: true }).click();
  };
  /** Ticks exactly these containers' boxes. */
  const select = async (...names: string[]) => {
    for (const name of ['alpha', 'bravo', 'charlie', 'delta']) {
      const box = page.getByRole('checkbox', { name: `Select ${name}` });
      if ((await box.count()) > 0) await box.setChecked(names.includes(name));
    }
    await expect
      .poll(() => page.locator('.bulk-count').textContent(), { timeout: UI_TIMEOUT })
      .toBe(`${names.length} selected`);
  };
  const bulk = (action: string) =>
    page
      .getByRole('toolbar', { name: 'Actions on the selected containers' })
      .getByRole('button', { name: action, exact: true });
  const outcome = (name: string) => containerRow(name).locator('td.outcome');

  // The log tab.
  const logLines = () => page.getByTestId('log-lines').locator('.line');
  const lineTexts = (stream?: 'stdout' | 'stderr') =>
    page
      .getByTestId('log-lines')
      .locator(stream ? `.line[data-stream="${stream}"] .text` : '.line .text')
      .allTextContents();

  // The volumes and images pages.
  const volumeRow = (name: string) => page.locator(`tr[data-volume-name="${name}"]`);
  const imageRow = (tag: string) => page.locator(`tr[data-image-tags~="${tag}"]`);
  const tagsOf = async (row: Locator) => (await row.getAttribute('data-image-tags'))?.split(' ') ?? [];
  const alert = () => page.locator('p.error[role="alert"]');
  const status = () => page.locator('p.message[role="status"]');
  const accepting = () => page.once('dialog', (dialog) => void dialog.accept());

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

    hostA = await startAgent(HOST_A);
    hostB = await startAgent(HOST_B);
    busybox = await buildBusyboxImage({ format: 'docker-save', tag: 'busybox:latest' });
    for (const agent of [hostA, hostB]) await agent.docker('load', '--input', busybox.archivePath);

    // Host A: two running containers with labels, one created (never started) from another name
    // of the image. Host B: one running container without labels. `sleep` as PID 1 ignores SIGTERM,
    // so a one-second stop timeout keeps stops short.
    await hostA.docker('tag', 'busybox:latest', SLEEPER_IMAGE);
    const sleeper = ['--stop-timeout', '1'];
    ids.alpha = await hostA.docker('run', '-d', '--name', 'alpha', '--label', 'tier=web', ...sleeper, 'busybox:latest', 'sleep', '3600'); // prettier-ignore
    ids.bravo = await hostA.docker('run', '-d', '--name', 'bravo', '--label', 'tier=db', ...sleeper, 'busybox:latest', 'sleep', '3600'); // prettier-ignore
    ids.charlie = await hostA.docker('create', '--name', 'charlie', '--label', 'tier=web', ...sleeper, SLEEPER_IMAGE, 'sleep', '3600'); // prettier-ignore
    ids.delta = await hostB.docker('run', '-d', '--name', 'delta', ...sleeper, 'busybox:latest', 'sleep', '3600');

    // An image that is not busybox: one file, imported (docker import makes a new image id).
    scratch = await mkdtemp(join(tmpdir(), 'skiff-e2e-manage-files-'));
    const notes = join(scratch, 'notes.tar');
    await writeFile(
      notes,
      await packEntries([{ header: { name: 'notes.txt', type: 'file', mode: 0o644 }, body: 'a small image\n' }]),
    );
    await hostA.docker('import', notes, NOTES_IMAGE);
    // The archive an operator uploads: busybox again, under a name of its own.
    uploaded = await buildBusyboxImage({ format: 'docker-save', tag: UPLOADED_IMAGE, directory: scratch });

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    // A read of something not there yet fails within a poll's time, not Playwright's 30 s.
    page.setDefaultTimeout(UI_TIMEOUT);
    await page.goto(`${baseUrl}/containers`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill(OPERATOR);
    await page.getByLabel('Password').fill(PEOPLE_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/containers$/);
  });

  afterAll(async () => {
    await browser?.close();
    for (const agent of agents) {
      const left = await agent.docker('ps', '-aq').catch(() => '');
      if (left) await agent.docker('rm', '-f', ...left.split('\n')).catch(() => undefined);
      await agent.process.stop('SIGTERM');
      await rm(agent.root, { recursive: true, force: true });
    }
    await server?.stop();
    await database?.drop();
    await busybox?.cleanup();
    await uploaded?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  describe('the containers list', () => {
    it('lists the containers of both hosts and narrows them to one host', async () => {
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['alpha', 'bravo', 'charlie', 'delta']);
      expect(await containerRow('delta').textContent()).toContain(HOST_B);
      expect(await page.locator(`.host-counts li[data-host-id="${hostA.hostId}"]`).textContent()).toContain(
        '2 running of 3',
      );

      await pick('Host', HOST_B);
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['delta']);
      await pick('Host', HOST_A);
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['alpha', 'bravo', 'charlie']);
      await pick('Host', 'All hosts');
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['alpha', 'bravo', 'charlie', 'delta']);
    });

    it('narrows the list by name or id, image, label and state, and clears the filters', async () => {
      const name = page.getByLabel('Name or id');
      await name.fill('alp');
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['alpha']);
      // The start of an id finds the container too.
      await name.fill(ids.bravo.slice(0, 8));
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['bravo']);
      await name.fill('');

      await page.getByLabel('Image').fill('sleeper');
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['charlie']);
      await page.getByLabel('Image').fill('');

      const label = page.getByLabel('Label');
      await label.fill('tier=web');
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['alpha', 'charlie']);
      await label.fill('tier');
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['alpha', 'bravo', 'charlie']);

      // Filters add up: labelled tier and running.
      await pick('State', 'running');
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['alpha', 'bravo']);
      await label.fill('');
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['alpha', 'bravo', 'delta']);
      await pick('State', 'created');
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['charlie']);
      await screenshot('manage-containers-filtered');

      await name.fill('no-such-container');
      await expect
        .poll(() => page.getByTestId('containers-empty').textContent(), { timeout: UI_TIMEOUT })
        .toContain('No container matches these filters');
      await page.getByRole('button', { name: 'Clear filters' }).click();
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['alpha', 'bravo', 'charlie', 'delta']);
      expect(await name.inputValue()).toBe('');
    });

    it('starts, stops and restarts the selected containers, as the engine confirms', async () => {
      await select('alpha', 'charlie');
      await bulk('Start').click();
      await expect.poll(() => outcome('charlie').textContent(), { timeout: UI_TIMEOUT }).toContain('started');
      // The engine answers 304 for a container that already runs: not a failure.
      await expect.poll(() => outcome('alpha').textContent(), { timeout: UI_TIMEOUT }).toContain('already started');
      expect(await outcome('alpha').locator('.failed').count()).toBe(0);
      expect((await containerState('charlie')).Running).toBe(true);
      await expect
        .poll(() => containerRow('charlie').locator('.state').textContent(), { timeout: UI_TIMEOUT })
        .toBe('running');

      await select('alpha', 'bravo');
      await bulk('Stop').click();
      await expect.poll(() => outcome('alpha').textContent(), { timeout: 30_000 }).toContain('stopped');
      await expect.poll(() => outcome('bravo').textContent(), { timeout: 30_000 }).toContain('stopped');
      expect((await containerState('alpha')).Running).toBe(false);
      expect((await containerState('bravo')).Running).toBe(false);
      expect((await containerState('charlie')).Running).toBe(true);
      await expect
        .poll(() => containerRow('alpha').locator('.state').textContent(), { timeout: UI_TIMEOUT })
        .toBe('exited');

      const charlieStarted = (await containerState('charlie')).StartedAt as string;
      await select('alpha', 'charlie');
      await bulk('Restart').click();
      await expect.poll(() => outcome('alpha').textContent(), { timeout: 30_000 }).toContain('restarted');
      await expect.poll(() => outcome('charlie').textContent(), { timeout: 30_000 }).toContain('restarted');
      const alpha = await containerState('alpha');
      const charlie = await containerState('charlie');
      expect(alpha.Running).toBe(true);
      expect(charlie.Running).toBe(true);
      expect(charlie.StartedAt).not.toBe(charlieStarted);
      expect((await containerState('bravo')).Running).toBe(false);
      // The other host's container was never touched.
      expect((await inspect(hostB, '--type', 'container', 'delta')).State.Running).toBe(true);
      await screenshot('manage-containers-bulk');
    });

    it("removes the selected containers and shows, on the row, the engine's refusal of a running one", async () => {
      await select('bravo', 'charlie');
      accepting();
      await bulk('Remove').click();
      await expect.poll(listedNames, { timeout: UI_TIMEOUT }).toEqual(['alpha', 'charlie', 'delta']);
      await expect
        .poll(() => outcome('charlie').textContent(), { timeout: UI_TIMEOUT })
        .toMatch(/cannot remove .*running/i);
      expect(await outcome('charlie').locator('.failed').count()).toBe(1);
      expect((await hostA.docker('ps', '-a', '--format', '{{.Names}}')).split('\n').sort()).toEqual([
        'alpha',
        'charlie',
      ]);
      await screenshot('manage-containers-removed');
    });
  });

  describe('the log tab', () => {
    let chatter: string;

    it('shows stdout and stderr apart and one at a time', async () => {
      chatter = await hostA.docker(
        'run',
        '-d',
        '--name',
        'chatter',
        'busybox:latest',
        'sh',
        '-c',
        'echo "out one"; echo "err one" >&2; echo "out two"; echo "err two" >&2; sleep 3600',
      );
      // Opened by its address, as from a bookmark: the log is asked for while the console's socket
      // is still connecting.
      await page.goto(`${baseUrl}/containers/${hostA.hostId}/${chatter}`);
      await expect.poll(() => logLines().count(), { timeout: UI_TIMEOUT }).toBe(4);
      expect(await lineTexts('stdout')).toEqual(['out one', 'out two']);
      expect(await lineTexts('stderr')).toEqual(['err one', 'err two']);

      const show = (which: string) => page.locator('mat-button-toggle', { hasText: which }).locator('button').click();
      await show('stderr');
      await expect.poll(() => lineTexts(), { timeout: UI_TIMEOUT }).toEqual(['err one', 'err two']);
      await show('stdout');
      await expect.poll(() => lineTexts(), { timeout: UI_TIMEOUT }).toEqual(['out one', 'out two']);
      await show('All');
      await expect.poll(() => logLines().count(), { timeout: UI_TIMEOUT }).toBe(4);
    });

    it('finds lines by a search and says how many match', async () => {
      const search = page.getByLabel('Search lines');
      await search.fill('TWO');
      await expect
        .poll(async () => (await lineTexts()).sort(), { timeout: UI_TIMEOUT })
        .toEqual(['err two', 'out two']);
      expect(await page.getByTestId('log-status').textContent()).toContain('2 matching');
      await search.fill('nothing like this');
      await expect
        .poll(() => page.getByTestId('log-lines').textContent(), { timeout: UI_TIMEOUT })
        .toContain('No line matches this filter.');
      expect(await page.getByRole('button', { name: 'Download' }).isDisabled()).toBe(true);
      await search.fill('');
      await expect.poll(() => logLines().count(), { timeout: UI_TIMEOUT }).toBe(4);
    });

    it("shows each line's time when timestamps are on", async () => {
      const times = page.getByTestId('log-lines').locator('.line .time');
      expect(await times.count()).toBe(0);
      await page.getByRole('switch', { name: 'Timestamps' }).click();
      await expect.poll(() => times.count(), { timeout: UI_TIMEOUT }).toBe(4);
      const started = Date.parse((await containerState('chatter')).StartedAt as string);
      for (const time of await times.allTextContents()) {
        expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
        expect(Math.abs(Date.parse(time) - started)).toBeLessThan(60_000);
      }
      await screenshot('manage-container-logs');
    });

    it('downloads the lines it shows, with their times when they are on', async () => {
      const download = async () => {
        const [file] = await Promise.all([
          page.waitForEvent('download', { timeout: UI_TIMEOUT }),
          page.getByRole('button', { name: 'Download' }).click(),
        ]);
        expect(file.suggestedFilename()).toBe(`${chatter.slice(0, 12)}-logs.txt`);
        return readFile(await file.path(), 'utf8');
      };
      await page.getByLabel('Search lines').fill('two');
      await expect.poll(() => logLines().count(), { timeout: UI_TIMEOUT }).toBe(2);
      const timed = (await download()).trimEnd().split('\n');
      expect(timed).toHaveLength(2);
      expect(timed.map((line) => line.replace(/^\S+Z /, '')).sort()).toEqual(['err two', 'out two']);
      for (const line of timed) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (out|err) two$/);

      await page.getByLabel('Search lines').fill('');
      await page.getByRole('switch', { name: 'Timestamps' }).click();
      await page.locator('mat-button-toggle', { hasText: 'stderr' }).locator('button').click();
      await expect.poll(() => logLines().count(), { timeout: UI_TIMEOUT }).toBe(2);
      expect(await download()).toBe('err one\nerr two\n');
    });
  });

  describe('the volumes page', () => {
    it('creates a labelled volume and lists it, after refusing a bad name', async () => {
      await page.getByRole('link', { name: 'Volumes' }).first().click();
      await page.waitForURL(/\/volumes$/);
      await expect.poll(() => page.getByRole('combobox', { name: 'Host' }).textContent()).toContain(HOST_A);
      await page.getByLabel('Volume name').fill('a');
      await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('at least two characters');
      expect(await page.getByRole('button', { name: 'Create volume' }).isDisabled()).toBe(true);

      await page.getByLabel('Volume name').fill('appdata');
      await page.getByLabel('Labels').fill('team=ops\njust words');
      await page.getByRole('button', { name: 'Create volume' }).click();
      await expect.poll(() => alert().textContent()).toContain('Labels, line 2: write key=value.');
      expect(await hostA.docker('volume', 'ls', '-q')).toBe('');

      await page.getByLabel('Labels').fill('team=ops\npurpose=e2e test');
      await page.getByRole('button', { name: 'Create volume' }).click();
      await expect.poll(() => volumeRow('appdata').count(), { timeout: UI_TIMEOUT }).toBe(1);
      expect(await status().textContent()).toContain('Created volume appdata.');
      const volume = await inspect(hostA, '--type', 'volume', 'appdata');
      expect(volume.Labels).toEqual({ team: 'ops', purpose: 'e2e test' });
      expect(volume.Driver).toBe('local');
    });

    it('inspects the volume and names the containers that use it', async () => {
      ids.keeper = await hostA.docker('run', '-d', '--name', 'keeper', '--stop-timeout', '1', '-v', 'appdata:/data', 'busybox:latest', 'sleep', '3600'); // prettier-ignore
      await page.getByRole('button', { name: 'Refresh' }).click();
      await volumeRow('appdata').getByRole('button', { name: 'Inspect' }).click();
      const facts = page.locator('skiff-json-view dl');
      await expect.poll(() => facts.textContent(), { timeout: UI_TIMEOUT }).toContain('team=ops');
      const mountpoint = (await inspect(hostA, '--type', 'volume', 'appdata')).Mountpoint as string;
      expect(await facts.textContent()).toContain(mountpoint);
      const users = page.getByTestId('volume-users');
      await expect.poll(() => users.textContent(), { timeout: UI_TIMEOUT }).toContain('keeper');
      expect(await users.textContent()).toContain('(running)');
      expect(await users.getByRole('link', { name: 'keeper' }).getAttribute('href')).toBe(
        `/containers/${hostA.hostId}/${ids.keeper}`,
      );
      await screenshot('manage-volumes');
    });

    it('refuses to remove a volume in use and says which container holds it', async () => {
      accepting();
      await page.getByRole('button', { name: 'Remove volume appdata' }).click();
      await expect.poll(() => alert().textContent(), { timeout: UI_TIMEOUT }).toContain('Could not remove appdata');
      expect(await alert().textContent()).toContain(ids.keeper.slice(0, 12));
      expect(await hostA.docker('volume', 'ls', '-q')).toContain('appdata');
      expect(await volumeRow('appdata').count()).toBe(1);
    });

    it('removes the volume once no container uses it', async () => {
      await hostA.docker('rm', '-f', 'keeper');
      // Inspect again (hide, show): the list of users is read afresh.
      await volumeRow('appdata').getByRole('button', { name: 'Hide' }).click();
      await volumeRow('appdata').getByRole('button', { name: 'Inspect' }).click();
      await expect
        .poll(() => page.getByTestId('volume-users').textContent(), { timeout: UI_TIMEOUT })
        .toContain('No container uses this volume');
      accepting();
      await page.getByRole('button', { name: 'Remove volume appdata' }).click();
      await expect.poll(() => volumeRow('appdata').count(), { timeout: UI_TIMEOUT }).toBe(0);
      expect(await status().textContent()).toContain('Removed volume appdata.');
      expect(await hostA.docker('volume', 'ls', '-q')).not.toContain('appdata');
    });
  });

  describe('the images page', () => {
    it('removes one name of an image that has several, and keeps the image', async () => {
      await page.getByRole('link', { name: 'Images' }).first().click();
      await page.waitForURL(/\/images$/);
      const busyboxRow = imageRow('busybox:latest');
      await expect.poll(() => busyboxRow.count(), { timeout: UI_TIMEOUT }).toBe(1);
      expect(await tagsOf(busyboxRow)).toEqual([SLEEPER_IMAGE, 'busybox:latest']);

      accepting();
      await page.getByRole('button', { name: `Remove image ${SLEEPER_IMAGE}` }).click();
      await expect.poll(() => status().textContent(), { timeout: UI_TIMEOUT }).toContain(`Removed ${SLEEPER_IMAGE}.`);
      await expect.poll(() => tagsOf(busyboxRow), { timeout: UI_TIMEOUT }).toEqual(['busybox:latest']);
      expect(await alert().count()).toBe(0);
      await expect(hostA.docker('image', 'inspect', SLEEPER_IMAGE)).rejects.toThrow(/No such image/i);
      expect((await inspect(hostA, '--type', 'image', 'busybox:latest')).Id).toBe(busybox!.imageId);
    });

    it('refuses to remove the last name of an image a running container uses, naming the container', async () => {
      accepting();
      await page.getByRole('button', { name: 'Remove image busybox:latest' }).click();
      await expect
        .poll(() => alert().textContent(), { timeout: UI_TIMEOUT })
        .toContain('Could not remove busybox:latest');
      // The only running user of busybox on host A is the chatter of the log tests.
      const text = (await alert().textContent()) ?? '';
      expect(text).toContain((await hostA.docker('ps', '--format', '{{.ID}}')).slice(0, 12));
      expect(text).toMatch(/using|in use|being used/);
      expect((await inspect(hostA, '--type', 'image', 'busybox:latest')).Id).toBe(busybox!.imageId);
      expect(await imageRow('busybox:latest').count()).toBe(1);
      await screenshot('manage-images-refused');
    });

    it('says why an uploaded file that is not an image archive could not be loaded', async () => {
      const broken = join(scratch!, 'broken.tar');
      await writeFile(broken, 'this is not a tar archive\n'.repeat(40));
      const before = await hostA.docker('images', '-q', '--no-trunc');
      await page.locator('input[type="file"]').setInputFiles(broken);
      await expect.poll(() => alert().textContent(), { timeout: 30_000 }).toContain('Could not load broken.tar: ');
      expect(((await alert().textContent()) ?? '').length).toBeGreaterThan('Could not load broken.tar: '.length + 5);
      expect(await hostA.docker('images', '-q', '--no-trunc')).toBe(before);
    });

    it('loads an image from an uploaded archive and lists it under its name', async () => {
      await page.locator('input[type="file"]').setInputFiles(uploaded!.archivePath);
      await expect.poll(() => status().textContent(), { timeout: 30_000 }).toContain(`Loaded image: ${UPLOADED_IMAGE}`);
      await expect.poll(() => imageRow(UPLOADED_IMAGE).count(), { timeout: UI_TIMEOUT }).toBe(1);
      expect(await imageRow(UPLOADED_IMAGE).getAttribute('data-image-id')).toBe(
        uploaded!.imageId.slice('sha256:'.length, 'sha256:'.length + 12),
      );
      expect((await inspect(hostA, '--type', 'image', UPLOADED_IMAGE)).Id).toBe(uploaded!.imageId);
    });

    it('tags an image under a new name', async () => {
      const notesRow = imageRow(NOTES_IMAGE);
      await expect.poll(() => notesRow.count(), { timeout: UI_TIMEOUT }).toBe(1);
      const notesId = (await inspect(hostA, '--type', 'image', NOTES_IMAGE)).Id as string;
      await notesRow.getByRole('button', { name: 'Tag' }).click();
      const repository = page.getByLabel('Repository');
      expect(await repository.inputValue()).toBe('scratch/notes');
      await repository.fill('fleet/notes');
      await page.getByLabel('Tag', { exact: true }).fill('v2');
      await page.getByRole('button', { name: 'Add tag' }).click();
      await expect.poll(() => status().textContent(), { timeout: UI_TIMEOUT }).toContain(`as fleet/notes:v2`);
      await expect.poll(() => tagsOf(notesRow), { timeout: UI_TIMEOUT }).toEqual(['fleet/notes:v2', NOTES_IMAGE]);
      expect((await inspect(hostA, '--type', 'image', 'fleet/notes:v2')).Id).toBe(notesId);
      await screenshot('manage-images');
    });

    it('removes an unused image with its last name', async () => {
      const notesId = (await inspect(hostA, '--type', 'image', NOTES_IMAGE)).Id as string;
      accepting();
      await page.getByRole('button', { name: 'Remove image fleet/notes:v2' }).click();
      await expect.poll(() => tagsOf(imageRow(NOTES_IMAGE)), { timeout: UI_TIMEOUT }).toEqual([NOTES_IMAGE]);
      accepting();
      await page.getByRole('button', { name: `Remove image ${NOTES_IMAGE}` }).click();
      await expect.poll(() => imageRow(NOTES_IMAGE).count(), { timeout: UI_TIMEOUT }).toBe(0);
      await expect(hostA.docker('image', 'inspect', notesId)).rejects.toThrow(/No such image/i);
      expect(await hostA.docker('images', '--format', '{{.Repository}}:{{.Tag}}')).not.toContain('notes');
      expect(server.child.exitCode).toBeNull();
    });
  });
});
