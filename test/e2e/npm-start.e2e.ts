import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, repoRoot, type Started, startNode } from '../support/processes.js';
import { processesMentioning } from '../support/processes-check.js';

const isRoot = process.getuid?.() === 0;

/** `npm start` as a user runs it: embedded PostgreSQL, server, console and (as root) the local agent. */
describe('npm start', () => {
  let dataDir: string;
  let port: number;
  const runs: Started[] = [];

  const start = () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SKIFF_DATA: dataDir,
      PORT: String(port),
      SKIFF_ENGINE_SOCKET: join(dataDir, 'docker.sock'),
    };
    delete env.DATABASE_URL;
    delete env.SKIFF_ADMIN_PASSWORD;
    const run = startNode(join(repoRoot, 'scripts/start.mjs'), [], env);
    runs.push(run);
    return run;
  };
  const signIn = (password: string) =>
    fetch(`http://127.0.0.1:${port}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });

  beforeAll(async () => {
    // Under /tmp: PostgreSQL runs as the postgres user, which must reach its data directory.
    dataDir = await mkdtemp('/tmp/skiff-npm-start-');
    await chmod(dataDir, 0o755);
    port = await freePort();
  });

  afterAll(async () => {
    for (const run of runs) await run.stop('SIGINT');
    for (const pid of processesMentioning(dataDir)) process.kill(pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints the console URL and a generated admin password that signs in, with the local host online', async () => {
    const run = start();
    const banner = await run.waitForOutput(/Skiff is running\.[\s\S]*Stop: +Ctrl-C/, 90_000);
    expect(banner).toContain(`Console:   http://localhost:${port}`);
    const password = /password (\S+) +\(shown once/.exec(banner)?.[1];
    expect(password).toBeDefined();
    expect((await signIn(password!)).status).toBe(200);
    expect(banner).toMatch(isRoot ? /Local host: online/ : /Local host: none \(needs root\)/);
    const page = await fetch(`http://127.0.0.1:${port}/hosts`);
    expect(await page.text()).toContain('<skiff-root');
  }, 120_000);

  it('stops the server, the agent and PostgreSQL on Ctrl-C', async () => {
    const run = runs.at(-1)!;
    expect(await run.stop('SIGINT'), run.output()).toBe(0);
    expect(processesMentioning(dataDir)).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${port}/api/health`)).rejects.toThrow();
  }, 60_000);

  it('cleans up what a killed run left behind and starts again with the same account', async () => {
    const first = start();
    await first.waitForOutput(/Skiff is running\./, 90_000);
    await first.stop('SIGKILL');
    // The server, the agent and the postmaster outlive a SIGKILLed npm start.
    expect(processesMentioning(dataDir).length).toBeGreaterThan(0);

    const second = start();
    const banner = await second.waitForOutput(/Skiff is running\.[\s\S]*Stop: +Ctrl-C/, 90_000);
    expect(banner).toMatch(/password printed on the first start/);
    if (isRoot) expect(banner).toMatch(/Local host: online/);
    expect(await second.stop('SIGTERM'), second.output()).toBe(0);
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 180_000);
});
