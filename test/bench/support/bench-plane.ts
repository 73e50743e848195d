import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '../../support/database.js';
import { type EnrolledAgent, startEnrolledAgent } from '../../support/enrolled-agent.js';
import { freePort, repoRoot, type Started, startNode, waitForHealth } from '../../support/processes.js';
import { ADMIN_PASSWORD, call, type Session, signIn } from '../../support/test-server.js';

const serverScript = join(repoRoot, 'server/bin/skiff-server.js');

/**
 * The plane under measurement: the built server in its own process on a fresh database, the
 * built agent enrolled with it, and the credentials a benchmark calls with. The server runs
 * apart from the benchmark so that the clients' work (decoding a hundred log streams) does not
 * share its event loop and show up as proxy overhead.
 */
export interface BenchPlane {
  baseUrl: string;
  /** The server's database (fresh for this run). */
  databaseUrl: string;
  /** The current server process (a new one after `restartServer`). */
  server: Started;
  agent: EnrolledAgent;
  admin: Session;
  /** A personal API token of the admin, as a CLI or script sends it. */
  apiToken: string;
  /** `/api/hosts/<id>/engine`: prefix an Engine API path with it to go through the server. */
  enginePrefix: string;
  /** True once the server process has exited by itself. */
  serverDied(): boolean;
  /** Starts the server again on the same port and database, and waits until the agent is back online. */
  restartServer(): Promise<void>;
  close(): Promise<void>;
}

export async function startBenchPlane(adminUrl: string): Promise<BenchPlane> {
  const database = await createTestDatabase(adminUrl);
  const dataDir = await mkdtemp(join(tmpdir(), 'skiff-bench-server-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = {
    DATABASE_URL: database.url,
    PORT: String(port),
    SKIFF_LISTEN: '127.0.0.1',
    SKIFF_ADMIN_PASSWORD: ADMIN_PASSWORD,
    SKIFF_SECRET_KEY: randomBytes(32).toString('base64'),
    SKIFF_DATA: dataDir,
    SKIFF_WEB_DIR: '/nonexistent',
  };
  let server = await startServer(baseUrl, env);
  let agent: EnrolledAgent | undefined;
  const close = async () => {
    await agent?.close();
    await server.stop();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const admin = await signIn(baseUrl);
    const token = await call(baseUrl, admin, 'POST', '/api/tokens', { name: 'plane benchmark' });
    if (token.status !== 201) throw new Error(`API token: ${token.status} ${JSON.stringify(token.body)}`);
    const enrolled = await startEnrolledAgent(baseUrl, admin, { name: 'bench-01', busybox: true });
    agent = enrolled;
    const plane: BenchPlane = {
      baseUrl,
      databaseUrl: database.url,
      server,
      agent: enrolled,
      admin,
      apiToken: token.body.token as string,
      enginePrefix: `/api/hosts/${enrolled.hostId}/engine`,
      serverDied: () => server.child.exitCode !== null || server.child.signalCode !== null,
      restartServer: async () => {
        await server.stop('SIGKILL');
        server = await startServer(baseUrl, env);
        plane.server = server;
        await waitForLink(baseUrl, admin, enrolled.hostId);
      },
      close,
    };
    return plane;
  } catch (error) {
    await close();
    throw error;
  }
}

async function startServer(baseUrl: string, env: NodeJS.ProcessEnv): Promise<Started> {
  const server = startNode(serverScript, [], env);
  const exited = server.exited.then((code) => {
    throw new Error(`the server exited (${code}) before it was healthy`);
  });
  exited.catch(() => undefined); // Later exits are the caller's to notice (serverDied).
  try {
    await Promise.race([waitForHealth(baseUrl), exited]);
  } catch (error) {
    await server.stop('SIGKILL');
    throw new Error(`${(error as Error).message}:\n${server.output()}`);
  }
  return server;
}

/** Waits until a call reaches the host's engine through the server (its agent has dialled in again). */
async function waitForLink(baseUrl: string, admin: Session, hostId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ping = await fetch(`${baseUrl}/api/hosts/${hostId}/engine/_ping`, { headers: { cookie: admin.cookie } });
    await ping.text();
    if (ping.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the agent of host ${hostId} did not dial in again after the server restarted`);
}
