// npm start: the whole product on this machine. Installs and builds what is missing, starts an embedded
// PostgreSQL unless DATABASE_URL is set, the server (API + console) and, as root, a local agent that
// enrols itself. Ctrl-C stops everything it started.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { build, ensureDebianPackages, ensureDependencies, root, say } from './lib/workspace.mjs';

const HELP = `Usage: npm start

Runs Skiff on this machine: the server with its console and API on PORT (default 8080), an embedded
PostgreSQL in SKIFF_DATA (default .skiff/ in the checkout) unless DATABASE_URL is set, and, when run
as root, a local agent that enrols itself with the server. Ctrl-C stops all of it.

Environment: PORT, DATABASE_URL, SKIFF_DATA, SKIFF_ADMIN_PASSWORD (see the README for all).
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}

const dataDir = resolve(process.env.SKIFF_DATA ?? join(root, '.skiff'));
const port = Number(process.env.PORT ?? 8080);
const lockFile = join(dataDir, 'skiff.pid');
const agentRoot = join(dataDir, 'agent');
const identityFile = join(agentRoot, 'plane', 'identity.json');
const isRoot = process.getuid?.() === 0;
const engineSocket = process.env.SKIFF_ENGINE_SOCKET ?? '/run/skiff/docker.sock';
const children = new Map();
let database;
let stopping = false;

// Before anything starts, so that a Ctrl-C at any moment (even as the banner is being read) stops
// whatever has been started so far.
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  ensureDependencies();
  // The engine's C helper is compiled here; only root runs the engine.
  if (isRoot) ensureDebianPackages(['gcc', 'libc6-dev']);
  build();
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  takeLock();

  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    say(`starting PostgreSQL (embedded, data in ${join(dataDir, 'postgres')})`);
    const { startEmbeddedPostgres } = await import(join(root, 'server/dist/database/embedded-postgres.js'));
    database = await startEmbeddedPostgres({ dataDir, log: say });
    databaseUrl = database.url;
  }
  const env = { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), SKIFF_DATA: dataDir };

  say(`starting the server on port ${port}`);
  let adminPassword = null;
  const server = startChild('server', [join(root, 'server/bin/skiff-server.js')], env, (line) => {
    const match = /generated password: (\S+)/.exec(line);
    if (match) adminPassword = match[1];
  });
  await waitForHealth(server);

  let agentConnected = Promise.resolve(false);
  if (isRoot) {
    agentConnected = startLocalAgent(env);
  } else {
    say(
      'the local agent needs root: the server and console run, but no container engine on this host (run `sudo npm start` for one)',
    );
  }
  const connected = await agentConnected;

  const url = `http://localhost:${port}`;
  const login = process.env.SKIFF_ADMIN_PASSWORD
    ? 'user "admin", password from SKIFF_ADMIN_PASSWORD'
    : adminPassword
      ? `user "admin", password ${adminPassword}  (shown once: keep it)`
      : 'user "admin" with the password printed on the first start';
  process.stdout.write(
    [
      '',
      '  Skiff is running.',
      `  Console:   ${url}`,
      `  Sign in:   ${login}`,
      `  API docs:  ${url}/api/docs`,
      ...(isRoot ? [`  Docker:    DOCKER_HOST=unix://${engineSocket} docker ps`] : []),
      isRoot
        ? `  Local host: ${connected ? 'online' : 'not connected yet (see the [agent] lines above)'}`
        : '  Local host: none (needs root)',
      '  Stop:      Ctrl-C',
      '',
    ].join('\n') + '\n',
  );
} catch (error) {
  if (!stopping) {
    process.stderr.write(`npm start failed: ${error.message}\n`);
    await stopAll(1);
  }
}

function startChild(name, args, env, onLine = () => {}) {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.set(name, child);
  recordLock();
  const relay = (stream, out) => {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        onLine(stripColours(line));
        out.write(`[${name}] ${line}\n`);
      }
    });
  };
  relay(child.stdout, process.stdout);
  relay(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    children.delete(name);
    recordLock();
    if (!stopping && name === 'server') {
      process.stderr.write(`the server stopped (${signal ?? `exit code ${code}`}); stopping everything\n`);
      void stopAll(1);
    }
  });
  return child;
}

async function waitForHealth(server) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error('the server exited during start-up (see the [server] lines above)');
    try {
      const response = await fetch(`http://127.0.0.1:${port}/api/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the server did not answer on port ${port} within 90 seconds`);
}

/** Starts the agent; enrols it first when it has no identity. Resolves true once it is connected. */
function startLocalAgent(env, retried = false) {
  const args = [
    join(root, 'host-agent/bin/skiff-agent.js'),
    '--server',
    `http://127.0.0.1:${port}`,
    '--root',
    agentRoot,
    '--name',
    hostname(),
  ];
  if (!enrolled()) {
    say('enrolling the local agent');
    const token = spawnSync(
      process.execPath,
      [join(root, 'server/bin/skiff-server.js'), 'join-token', 'create', '--ttl', '600'],
      {
        cwd: root,
        env,
        encoding: 'utf8',
      },
    );
    if (token.status !== 0)
      throw new Error(`could not create a join token for the local agent: ${token.stderr.trim()}`);
    args.push('--join-token', token.stdout.trim());
  }
  say('starting the local agent');
  return new Promise((resolveConnected) => {
    const timer = setTimeout(() => resolveConnected(false), 45_000);
    const agent = startChild('agent', args, env, (line) => {
      if (/connected to .* as host/.test(line)) {
        clearTimeout(timer);
        resolveConnected(true);
      }
    });
    agent.on('exit', (code) => {
      // 3: the server does not know or no longer accepts this agent's key (e.g. a new database).
      if (code === 3 && !retried && !stopping) {
        say("the server does not accept the local agent's identity; enrolling it again");
        rmSync(identityFile, { force: true });
        clearTimeout(timer);
        startLocalAgent(env, true).then(resolveConnected, () => resolveConnected(false));
      }
    });
  });
}

function enrolled() {
  try {
    return Boolean(JSON.parse(readFileSync(identityFile, 'utf8')).hostId);
  } catch {
    return false;
  }
}

/** One `npm start` per data directory; processes left by a killed earlier run are stopped. */
function takeLock() {
  if (existsSync(lockFile)) {
    let previous;
    try {
      previous = JSON.parse(readFileSync(lockFile, 'utf8'));
    } catch {
      previous = null;
    }
    if (previous && isAlive(previous.pid) && commandLine(previous.pid).includes('start.mjs')) {
      throw new Error(
        `Skiff is already running from ${dataDir} (pid ${previous.pid}); stop it first or set SKIFF_DATA`,
      );
    }
    for (const pid of previous?.children ?? []) {
      if (isAlive(pid) && /skiff-(server|agent)/.test(commandLine(pid))) {
        say(`stopping pid ${pid} left running by an earlier run`);
        process.kill(pid, 'SIGKILL');
      }
    }
  }
  recordLock();
}

function recordLock() {
  if (stopping) return;
  writeFileSync(
    lockFile,
    JSON.stringify({ pid: process.pid, children: [...children.values()].map((child) => child.pid) }),
  );
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  say('stopping');
  const exits = [...children.values()].map(
    (child) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.on('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  );
  await Promise.all(exits);
  if (database) {
    say('stopping PostgreSQL');
    await database.stop().catch(() => {});
  }
  rmSync(lockFile, { force: true });
  process.exit(code);
}

// Nest colours its log lines; what is matched here is the plain text.
function stripColours(line) {
  // eslint-disable-next-line no-control-regex -- colour codes start with ESC
  return line.replace(/\x1b\[[0-9;]*m/g, '');
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}
