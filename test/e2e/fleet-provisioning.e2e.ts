import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BusyboxImage, buildBusyboxImage } from '../support/busybox-image.js';
import { launchChromium } from '../support/browser.js';
import { createTestDatabase, query, type TestDatabase } from '../support/database.js';
import {
  createFleetNetwork,
  type FleetHost,
  type FleetNetwork,
  startFleetHost,
  SUDO_USER_NAME,
} from '../support/fleet-host.js';
import { freePort, repoRoot, type Started, startNode, waitForHealth } from '../support/processes.js';
import { call, type Session, signInAs } from '../support/rest-client.js';

const run = promisify(execFile);
const ADMIN_PASSWORD = 'e2e-fleet-admin';
const ROOT_PASSWORD = 'fleet-root-password';
const KEY_PASSPHRASE = 'fleet key passphrase';
const serverScript = join(repoRoot, 'server/bin/skiff-server.js');
const artifacts = join(repoRoot, 'test/e2e/artifacts');

interface Job {
  id: string;
  batchId: string;
  kind: string;
  address: string;
  status: 'running' | 'succeeded' | 'failed';
  progress: number;
  steps: Array<{ name: string; status: string; output: string; error?: string }>;
  error: string | null;
  hostId: string | null;
  targetId: string | null;
}

/**
 * Fleet provisioning end to end: the built server on PostgreSQL installs, upgrades and removes
 * agents over SSH on "fleet hosts" — real OpenSSH servers, each in its own network namespace on a
 * private test bridge, chrooted into a root of its own (no systemd there: the supervised service).
 */
describe('fleet provisioning installs, upgrades and removes agents on hosts over SSH', () => {
  let network: FleetNetwork;
  let hostA: FleetHost;
  let hostB: FleetHost;
  let hostC: FleetHost;
  let database: TestDatabase;
  let dataDir: string;
  let server: Started;
  let baseUrl: string;
  let admin: Session;
  let busybox: BusyboxImage;
  const credentials = { username: 'root', password: ROOT_PASSWORD };
  let loginKey: string;
  const hostIds = new Map<string, string>();
  const targetIds = new Map<string, string>();
  const containerIds = new Map<string, string>();

  const waitForJobs = async (ids: string[], timeoutMs = 180_000): Promise<Job[]> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const jobs = await Promise.all(
        ids.map(async (id) => (await call(baseUrl, admin, 'GET', `/api/provisioning/jobs/${id}`)).body as Job),
      );
      if (jobs.every((job) => job.status !== 'running')) return jobs;
      if (Date.now() > deadline) throw new Error(`jobs still running: ${JSON.stringify(jobs, null, 1)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };

  const engine = (host: FleetHost) => `/api/hosts/${hostIds.get(host.name)}/engine/v1.41`;

  /** Nothing of Skiff on the host: no files, no staging directory, no process of the bundle, no bridge or rule. */
  const expectNothingLeft = async (host: FleetHost) => {
    const links = (await run('ip', ['-n', host.netns, '-br', 'link', 'show'])).stdout;
    expect(
      links
        .split('\n')
        .map((line) => line.split(/[\s@]/)[0])
        .filter((name) => /^(skiff0|sk-)/.test(name ?? '')),
    ).toEqual([]);
    expect((await run('ip', ['netns', 'exec', host.netns, 'nft', 'list', 'tables'])).stdout).not.toContain('skiff');
    for (const path of [
      '/opt/skiff',
      '/etc/skiff',
      '/var/lib/skiff',
      '/run/skiff',
      '/var/log/skiff',
      '/etc/systemd/system/skiff-agent.service',
      '/etc/systemd/system/multi-user.target.wants/skiff-agent.service',
    ]) {
      expect(existsSync(host.path(path)), `${path} on ${host.name}`).toBe(false);
    }
    expect((await readdir(host.path('/tmp'))).filter((name) => name.startsWith('skiff-provision.'))).toEqual([]);
    const { stdout } = await run('ip', ['netns', 'pids', host.netns]);
    const commands = await Promise.all(
      stdout
        .split('\n')
        .filter(Boolean)
        .map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')),
    );
    expect(commands.filter((command) => command.includes('/opt/skiff'))).toEqual([]);
  };

  beforeAll(async () => {
    await mkdir(artifacts, { recursive: true });
    network = await createFleetNetwork();
    [hostA, hostB, hostC] = await Promise.all([
      startFleetHost(network, 1, { rootPassword: ROOT_PASSWORD }),
      // systemd is its pid 1: installs, uninstalls and rollbacks there take the systemd unit path.
      startFleetHost(network, 2, { rootPassword: ROOT_PASSWORD, systemd: true }),
      startFleetHost(network, 3, { rootPassword: ROOT_PASSWORD, noOverlay: true }),
    ]);
    database = await createTestDatabase(inject('databaseAdminUrl'));
    dataDir = await mkdtemp(join(tmpdir(), 'skiff-e2e-fleet-'));
    await chmod(dataDir, 0o755);
    const port = await freePort();
    baseUrl = `http://${network.gateway}:${port}`;
    server = startNode(serverScript, [], {
      DATABASE_URL: database.url,
      PORT: String(port),
      SKIFF_LISTEN: network.gateway,
      SKIFF_DATA: dataDir,
      SKIFF_ADMIN_PASSWORD: ADMIN_PASSWORD,
      // An agent that cannot reach the server gives up waiting this soon (the rollback test).
      SKIFF_PROVISION_ONLINE_SECONDS: '15',
    });
    await waitForHealth(baseUrl);
    admin = await signInAs(baseUrl, 'admin', ADMIN_PASSWORD);
    busybox = await buildBusyboxImage({ format: 'docker-save', tag: 'busybox:latest' });
    // A login key with a passphrase, authorised for root on host B.
    const keyFile = join(dataDir, 'login_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', KEY_PASSPHRASE, '-C', 'skiff-e2e', '-f', keyFile]);
    loginKey = await readFile(keyFile, 'utf8');
    await mkdir(hostB.path('/root/.ssh'), { mode: 0o700 });
    await writeFile(hostB.path('/root/.ssh/authorized_keys'), await readFile(`${keyFile}.pub`), { mode: 0o600 });
  }, 300_000);

  afterAll(async () => {
    // Containers first (they have namespaces of their own), then everything of each host.
    for (const [name, id] of containerIds) {
      const host = [hostA, hostB].find((candidate) => candidate?.name === name);
      if (host && hostIds.has(name)) {
        await call(baseUrl, admin, 'DELETE', `${engine(host)}/containers/${id}?force=1`).catch(() => undefined);
      }
    }
    await Promise.all([hostA?.close(), hostB?.close(), hostC?.close()]);
    await network?.close();
    await server?.stop('SIGTERM');
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    await busybox?.cleanup();
  }, 120_000);

  it('shows a host key for confirmation and refuses to install before it is confirmed', async () => {
    const probed = await call(baseUrl, admin, 'POST', '/api/provisioning/probe', { address: hostA.address });
    expect(probed.status, JSON.stringify(probed.body)).toBe(200);
    expect(probed.body).toMatchObject({
      address: hostA.address,
      port: 22,
      fingerprint: await hostA.fingerprint(),
      algorithm: 'ssh-ed25519',
      state: 'new',
    });

    const unconfirmed = await call(baseUrl, admin, 'POST', '/api/provisioning/jobs', {
      targets: [{ address: hostA.address }],
      credentials,
    });
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.body.message).toContain(`the host key of ${hostA.address}:22 is not confirmed yet`);

    const invalid = await call(baseUrl, admin, 'POST', '/api/provisioning/jobs', {
      targets: [{ address: '-oProxyCommand=x', hostKeyFingerprint: probed.body.fingerprint }],
      credentials,
    });
    expect(invalid.status).toBe(400);
  });

  it('installs two hosts in parallel; each enrols and comes online', async () => {
    const started = await call(baseUrl, admin, 'POST', '/api/provisioning/jobs', {
      targets: [
        { address: hostA.address, hostKeyFingerprint: await hostA.fingerprint(), name: hostA.name },
        { address: hostB.address, hostKeyFingerprint: await hostB.fingerprint(), name: hostB.name },
      ],
      credentials,
      storeCredentials: true,
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const queued = started.body as Job[];
    expect(queued.map((job) => job.address)).toEqual([hostA.address, hostB.address]);
    expect(new Set(queued.map((job) => job.batchId)).size).toBe(1);

    const jobs = await waitForJobs(queued.map((job) => job.id));
    for (const job of jobs) {
      expect(job.status, JSON.stringify(job, null, 1)).toBe('succeeded');
      expect(job.progress).toBe(100);
      expect(job.steps.map((step) => [step.name, step.status])).toEqual([
        ['connect', 'succeeded'],
        ['preflight', 'succeeded'],
        ['upload', 'succeeded'],
        ['verify', 'succeeded'],
        ['unpack', 'succeeded'],
        ['configure', 'succeeded'],
        ['start', 'succeeded'],
        ['online', 'succeeded'],
      ]);
      expect(job.steps.find((step) => step.name === 'preflight')?.output).toContain('overlayfs available');
    }
    expect(jobs[0].steps.find((step) => step.name === 'configure')?.output).toContain('no systemd');
    expect(jobs[1].steps.find((step) => step.name === 'configure')?.output).toContain(
      'systemd unit /etc/systemd/system/skiff-agent.service installed',
    );

    const hosts = (await call(baseUrl, admin, 'GET', '/api/hosts')).body as Array<{
      id: string;
      name: string;
      status: string;
    }>;
    for (const [host, job] of [
      [hostA, jobs[0]],
      [hostB, jobs[1]],
    ] as const) {
      const enrolled = hosts.find((candidate) => candidate.name === host.name);
      expect(enrolled?.status).toBe('online');
      expect(job.hostId).toBe(enrolled?.id);
      hostIds.set(host.name, enrolled?.id as string);
      targetIds.set(host.name, job.targetId as string);
      // An absolute link inside the host's root: followed there, not here.
      const release = await readlink(host.path('/opt/skiff/current'));
      expect(release).toMatch(/^\/opt\/skiff\/releases\/[0-9a-f]{64}$/);
      const version = (await readFile(host.path(`${release}/VERSION`), 'utf8')).trim();
      expect(version).toMatch(/^0\.\d+\.\d+\+[0-9a-f]{12}$/);
      // The agent reports the bundle it runs, so the console can tell hosts on another bundle.
      await expect
        .poll(
          async () => (await call(baseUrl, admin, 'GET', `/api/hosts/${enrolled?.id}`)).body.inventory?.agentVersion,
        )
        .toBe(version);
      expect(existsSync(host.path('/var/lib/skiff/plane'))).toBe(true);
      // The join token was used and the settings file is root's alone.
      expect((await run('stat', ['-c', '%a', host.path('/etc/skiff/agent.env')])).stdout.trim()).toBe('600');
      if (host.systemd) {
        // systemd runs the agent from the unit in deploy/, enabled for the next boot.
        expect((await host.run(['systemctl', 'is-active', 'skiff-agent.service'])).trim()).toBe('active');
        expect((await host.run(['systemctl', 'is-enabled', 'skiff-agent.service'])).trim()).toBe('enabled');
        expect(await readFile(host.path('/etc/systemd/system/skiff-agent.service'), 'utf8')).toBe(
          await readFile(join(repoRoot, 'deploy/systemd/skiff-agent.service'), 'utf8'),
        );
      } else {
        expect(await host.pidFrom('/run/skiff/agent.pid')).not.toBeNull();
      }
    }

    const targets = (await call(baseUrl, admin, 'GET', '/api/provisioning/targets')).body as Array<{
      address: string;
      hostKeyFingerprint: string;
      hasStoredCredentials: boolean;
    }>;
    expect(targets.find((target) => target.address === hostA.address)).toMatchObject({
      hostKeyFingerprint: await hostA.fingerprint(),
      hasStoredCredentials: true,
    });
    // Kept only sealed with the server key.
    const sealed = await query<{ credentials: string }>(database.url, 'SELECT credentials FROM provisioning_targets');
    expect(sealed).toHaveLength(2);
    for (const row of sealed) {
      expect(row.credentials).toMatch(/^v1:/);
      expect(row.credentials).not.toContain(ROOT_PASSWORD);
      expect(Buffer.from(row.credentials.slice(3), 'base64').toString('latin1')).not.toContain(ROOT_PASSWORD);
    }

    const audit = await call(baseUrl, admin, 'GET', '/api/audit?action=provisioning.install');
    expect(audit.status).toBe(200);
    const rows = audit.body.items as Array<{ outcome: string; target: string; details: { steps: unknown[] } }>;
    expect(rows.map((row) => [row.target, row.outcome]).sort()).toEqual([
      [`${hostA.address}:22`, 'success'],
      [`${hostB.address}:22`, 'success'],
    ]);
    expect(rows[0].details.steps).toHaveLength(8);
    expect(JSON.stringify(audit.body)).not.toContain(ROOT_PASSWORD);
  });

  it('runs a container on each host through the server', async () => {
    const archive = await readFile(busybox.archivePath);
    for (const host of [hostA, hostB]) {
      const loaded = await fetch(`${baseUrl}${engine(host)}/images/load?quiet=1`, {
        method: 'POST',
        headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'content-type': 'application/x-tar' },
        body: archive,
      });
      expect(loaded.status, await loaded.clone().text()).toBe(200);
      await loaded.text();
      const created = await call(baseUrl, admin, 'POST', `${engine(host)}/containers/create?name=keeps-running`, {
        Image: 'busybox:latest',
        Cmd: ['sh', '-c', 'while true; do sleep 1; done'],
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      containerIds.set(host.name, created.body.Id as string);
      const startedContainer = await call(
        baseUrl,
        admin,
        'POST',
        `${engine(host)}/containers/${created.body.Id}/start`,
      );
      expect(startedContainer.status).toBe(204);
      const inspected = await call(baseUrl, admin, 'GET', `${engine(host)}/containers/${created.body.Id}/json`);
      expect(inspected.body.State.Running).toBe(true);
    }
  });

  it('upgrades one host to the server’s agent while its container keeps running', async () => {
    const before = await call(
      baseUrl,
      admin,
      'GET',
      `${engine(hostA)}/containers/${containerIds.get(hostA.name)}/json`,
    );
    const agentBefore = await hostA.pidFrom('/run/skiff/agent.pid');
    // The host runs an older release: the one installed, moved to another release name (its
    // running agent and shims keep their files open).
    const installed = await readlink(hostA.path('/opt/skiff/current'));
    const older = `/opt/skiff/releases/${'0'.repeat(64)}`;
    await rename(hostA.path(installed), hostA.path(older));
    await symlink(older, hostA.path('/opt/skiff/current.tmp'));
    await rename(hostA.path('/opt/skiff/current.tmp'), hostA.path('/opt/skiff/current'));
    const upgrade = await call(
      baseUrl,
      admin,
      'POST',
      `/api/provisioning/targets/${targetIds.get(hostA.name)}/upgrade`,
      {
        credentials,
      },
    );
    expect(upgrade.status, JSON.stringify(upgrade.body)).toBe(202);
    const [job] = await waitForJobs([upgrade.body.id as string]);
    expect(job.status, JSON.stringify(job, null, 1)).toBe('succeeded');
    expect(job.steps.map((step) => step.status)).toEqual(Array(6).fill('succeeded'));
    expect(job.steps.find((step) => step.name === 'upgrade')?.output).toMatch(/upgraded to 0\.\d+\.\d+\+[0-9a-f]{12}/);
    expect(await readlink(hostA.path('/opt/skiff/current'))).toBe(installed);
    expect(await readdir(hostA.path('/opt/skiff/releases'))).toEqual([installed.split('/').pop()]);

    const agentAfter = await hostA.pidFrom('/run/skiff/agent.pid');
    expect(agentAfter).not.toBeNull();
    expect(agentAfter).not.toBe(agentBefore);
    const after = await call(baseUrl, admin, 'GET', `${engine(hostA)}/containers/${containerIds.get(hostA.name)}/json`);
    expect(after.status).toBe(200);
    expect(after.body.State.Running).toBe(true);
    expect(after.body.State.Pid).toBe(before.body.State.Pid);
    expect(after.body.State.StartedAt).toBe(before.body.State.StartedAt);
    process.kill(after.body.State.Pid as number, 0);
  });

  it('uninstalls the other host: its containers and files go, the host is revoked, the first host is untouched', async () => {
    const containerPid = (
      await call(baseUrl, admin, 'GET', `${engine(hostB)}/containers/${containerIds.get(hostB.name)}/json`)
    ).body.State.Pid as number;
    const uninstall = await call(
      baseUrl,
      admin,
      'POST',
      `/api/provisioning/targets/${targetIds.get(hostB.name)}/uninstall`,
      // With a private key and its passphrase this time.
      { credentials: { username: 'root', privateKey: loginKey, passphrase: KEY_PASSPHRASE } },
    );
    expect(uninstall.status, JSON.stringify(uninstall.body)).toBe(202);
    const [job] = await waitForJobs([uninstall.body.id as string]);
    expect(job.status, JSON.stringify(job, null, 1)).toBe('succeeded');
    expect(job.steps.find((step) => step.name === 'uninstall')?.output).toContain('removed container keeps-running');

    await expectNothingLeft(hostB);
    // State.Pid is as the host's agent sees it: in host B's own pid namespace (systemd is its pid 1).
    await expect(hostB.run(['kill', '-0', String(containerPid)])).rejects.toThrow();
    const hosts = (await call(baseUrl, admin, 'GET', '/api/hosts')).body as Array<{ name: string }>;
    expect(hosts.map((host) => host.name)).not.toContain(hostB.name);
    hostIds.delete(hostB.name);
    containerIds.delete(hostB.name);

    const still = await call(baseUrl, admin, 'GET', `${engine(hostA)}/containers/${containerIds.get(hostA.name)}/json`);
    expect(still.body.State.Running).toBe(true);
  });

  it('fails a wrong password or key passphrase with a clear message and leaves nothing behind', async () => {
    const upgrade = await call(baseUrl, admin, 'POST', '/api/provisioning/jobs', {
      targets: [{ address: hostB.address }],
      credentials: { username: 'root', password: 'not-the-password' },
    });
    expect(upgrade.status, JSON.stringify(upgrade.body)).toBe(202);
    const [job] = await waitForJobs([upgrade.body[0].id as string]);
    expect(job.status).toBe('failed');
    expect(job.steps[0]).toMatchObject({ name: 'connect', status: 'failed' });
    expect(job.error).toContain(`the SSH server ${hostB.address}:22 refused the login of root: wrong password or key`);
    expect(job.steps.slice(1).every((step) => step.status === 'skipped')).toBe(true);

    const wrongPassphrase = await call(baseUrl, admin, 'POST', '/api/provisioning/jobs', {
      targets: [{ address: hostB.address }],
      credentials: { username: 'root', privateKey: loginKey, passphrase: 'not-the-passphrase' },
    });
    const [keyJob] = await waitForJobs([wrongPassphrase.body[0].id as string]);
    expect(keyJob.status).toBe('failed');
    expect(keyJob.error).toContain('cannot use the private key');
    expect(keyJob.error).toContain('check the key and its passphrase');
    await expectNothingLeft(hostB);
  });

  it('rolls back an install that fails after it changed the host: files, service, join token', async () => {
    // The host cannot reach this address: the agent starts but never enrols.
    const started = await call(baseUrl, admin, 'POST', '/api/provisioning/jobs', {
      targets: [{ address: hostB.address, hostKeyFingerprint: await hostB.fingerprint() }],
      credentials,
      serverUrl: `http://${network.gateway}:1`,
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const [job] = await waitForJobs([started.body[0].id as string]);
    expect(job.status).toBe('failed');
    expect(job.steps.map((step) => [step.name, step.status])).toEqual([
      ['connect', 'succeeded'],
      ['preflight', 'succeeded'],
      ['upload', 'succeeded'],
      ['verify', 'succeeded'],
      ['unpack', 'succeeded'],
      ['configure', 'succeeded'],
      ['start', 'succeeded'],
      ['online', 'failed'],
      ['rollback', 'succeeded'],
    ]);
    expect(job.error).toContain('the agent did not enrol within 15 s');
    expect(job.error).toContain('What to do: check that the host can reach the server');
    expect(job.steps.find((step) => step.name === 'online')?.output).toContain("the agent's log:");
    expect(job.steps.find((step) => step.name === 'rollback')?.output).toContain(
      'removed everything the install had made',
    );
    await expectNothingLeft(hostB);
    const usable = await query<{ count: string }>(
      database.url,
      'SELECT count(*) FROM join_tokens WHERE used_at IS NULL AND expires_at > now()',
    );
    expect(usable[0].count).toBe('0');
  });

  it('fails a host without overlayfs at the preflight, says what to do, and leaves nothing behind', async () => {
    const fingerprint = await hostC.fingerprint();
    const started = await call(baseUrl, admin, 'POST', '/api/provisioning/jobs', {
      targets: [{ address: hostC.address, hostKeyFingerprint: fingerprint, name: hostC.name }],
      credentials,
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const [job] = await waitForJobs([started.body[0].id as string]);
    expect(job.status).toBe('failed');
    const preflight = job.steps.find((step) => step.name === 'preflight');
    expect(preflight?.status).toBe('failed');
    expect(preflight?.output).toContain('FAIL  overlayfs');
    expect(job.error).toContain('overlayfs: the kernel has no overlay file system');
    expect(job.error).toContain('modprobe overlay');
    await expectNothingLeft(hostC);
    const hosts = (await call(baseUrl, admin, 'GET', '/api/hosts')).body as Array<{ name: string }>;
    expect(hosts.map((host) => host.name)).not.toContain(hostC.name);

    const audit = await call(baseUrl, admin, 'GET', '/api/audit?action=provisioning.install&outcome=failure');
    expect(
      (audit.body.items as Array<{ target: string; error: string }>).find((row) => row.target === `${hostC.address}:22`)
        ?.error,
    ).toContain('overlay');
  });

  it('fails a wrong sudo password with a clear message and leaves nothing behind', async () => {
    const started = await call(baseUrl, admin, 'POST', '/api/provisioning/jobs', {
      targets: [{ address: hostC.address, hostKeyFingerprint: await hostC.fingerprint() }],
      credentials: { username: SUDO_USER_NAME, password: ROOT_PASSWORD, sudo: true, sudoPassword: 'not-it' },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const [job] = await waitForJobs([started.body[0].id as string]);
    expect(job.status).toBe('failed');
    expect(job.steps.find((step) => step.name === 'preflight')?.status).toBe('failed');
    expect(job.error).toMatch(/^sudo refused: .*What to do: check the sudo password and that the user may use sudo$/);
    await expectNothingLeft(hostC);
  });

  it('refuses to connect when a pinned host key has changed, and says so', async () => {
    const pinned = await hostA.fingerprint();
    await hostA.changeHostKey();
    const changed = await hostA.fingerprint();
    expect(changed).not.toBe(pinned);

    const probed = await call(baseUrl, admin, 'POST', '/api/provisioning/probe', { address: hostA.address });
    expect(probed.body).toMatchObject({ state: 'changed', fingerprint: changed, pinnedFingerprint: pinned });

    const upgrade = await call(
      baseUrl,
      admin,
      'POST',
      `/api/provisioning/targets/${targetIds.get(hostA.name)}/upgrade`,
      {
        credentials,
      },
    );
    const [job] = await waitForJobs([upgrade.body.id as string]);
    expect(job.status).toBe('failed');
    expect(job.steps[0].status).toBe('failed');
    expect(job.error).toContain(`the host key of ${hostA.address}:22 has changed`);
    expect(job.error).toContain(pinned);
    expect(job.error).toContain(changed);
    // The agent on the host was not touched.
    const still = await call(baseUrl, admin, 'GET', `${engine(hostA)}/containers/${containerIds.get(hostA.name)}/json`);
    expect(still.body.State.Running).toBe(true);
  });

  it('serves install.sh and the checksummed bundle, and the one-line command installs a host by hand', async () => {
    const manual = await call(baseUrl, admin, 'POST', '/api/provisioning/manual-install', {});
    expect(manual.status, JSON.stringify(manual.body)).toBe(201);
    expect(manual.body.command).toBe(
      `curl -fsSL ${baseUrl}/api/provisioning/install.sh | sudo sh -s -- --join-token ${manual.body.token}`,
    );
    const sums = await fetch(`${baseUrl}/api/provisioning/bundle.tar.gz.sha256`);
    const [sha] = (await sums.text()).split(' ');
    const bundle = Buffer.from(await (await fetch(`${baseUrl}/api/provisioning/bundle.tar.gz`)).arrayBuffer());
    expect(createHash('sha256').update(bundle).digest('hex')).toBe(sha);

    // The command as an operator runs it on host B (root there already, so without sudo).
    const command = `${manual.body.command.replace('| sudo sh', '| sh')} --name manual-b`;
    const installed = await hostB.run(['sh', '-c', command]);
    expect(installed).toContain('the agent is running');
    const deadline = Date.now() + 60_000;
    let online: { id: string } | undefined;
    while (!online && Date.now() < deadline) {
      const hosts = (await call(baseUrl, admin, 'GET', '/api/hosts')).body as Array<{
        id: string;
        name: string;
        status: string;
      }>;
      online = hosts.find((host) => host.name === 'manual-b' && host.status === 'online');
      if (!online) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(online).toBeDefined();
    await hostB.run(['sh', '/opt/skiff/current/skiff-host.sh', 'uninstall']);
    await expectNothingLeft(hostB);
  });

  it('walks an operator through the console wizard: login, fingerprint, live steps with progress', async () => {
    // Host B is clean again; forget its key so the wizard asks to confirm it.
    const targets = (await call(baseUrl, admin, 'GET', '/api/provisioning/targets')).body as Array<{
      id: string;
      address: string;
    }>;
    const forgotten = targets.find((target) => target.address === hostB.address);
    if (forgotten) {
      expect((await call(baseUrl, admin, 'DELETE', `/api/provisioning/targets/${forgotten.id}`)).status).toBe(204);
    }

    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
      await page.goto(`${baseUrl}/login`);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/dashboard/);
      await page.goto(`${baseUrl}/hosts`);
      await page.getByTestId('install-over-ssh').click();
      await page.waitForURL(/\/hosts\/install/);

      // For hosts out of SSH's reach: the one-line command with a fresh join token.
      await page.getByTestId('manual-show').click();
      expect(await page.getByTestId('manual-command').textContent()).toMatch(
        new RegExp(`^curl -fsSL ${baseUrl}/api/provisioning/install\\.sh \\| sudo sh -s -- --join-token skj_\\S+$`),
      );

      await page.getByTestId('install-addresses').fill(hostB.address);
      // A user who is not root: everything on the host runs through sudo, its password over stdin.
      await page.getByTestId('install-username').fill(SUDO_USER_NAME);
      await page.getByTestId('install-password').fill(ROOT_PASSWORD);
      await page.getByTestId('install-sudo').locator('input').check();
      await page.getByTestId('install-check-keys').click();

      const key = page.locator(`.key[data-address="${hostB.address}"]`);
      await expect.poll(() => key.getAttribute('data-state'), { timeout: 30_000 }).toBe('new');
      expect(await key.getByTestId('fingerprint').textContent()).toBe(await hostB.fingerprint());
      expect(await page.getByTestId('install-start').isDisabled()).toBe(true);
      await key.getByTestId('confirm-fingerprint').locator('input').check();
      await page.getByTestId('install-start').click();

      const job = page.locator(`[data-testid="install-job"][data-address="${hostB.address}"]`);
      await expect.poll(() => job.getAttribute('data-status'), { timeout: 120_000, interval: 500 }).not.toBe('running');
      await page.screenshot({ path: join(artifacts, 'fleet-install-wizard.png'), fullPage: true });
      expect(await job.getAttribute('data-status')).toBe('succeeded');
      expect(await job.getByTestId('job-progress').textContent()).toBe('100%');
      expect(
        await job.locator('.step').evaluateAll((steps) => steps.map((step) => step.getAttribute('data-status'))),
      ).toEqual(Array(8).fill('succeeded'));
      expect(await job.locator('.step[data-step="online"] .output').textContent()).toContain('is online');
      await job.getByTestId('job-host-link').click();
      await page.waitForURL(/\/hosts\/[0-9a-f-]{36}$/);

      // The host's page: upgrade and then uninstall the agent from the console (no login was kept,
      // so the password is asked for there).
      const card = page.getByTestId('provisioned-agent');
      await card.waitFor({ timeout: 30_000 });
      expect(await card.textContent()).toContain(`${SUDO_USER_NAME}@${hostB.address}:22 (sudo)`);
      expect(await card.getByTestId('provisioned-version').textContent()).toMatch(/^0\.\d+\.\d+\+[0-9a-f]{12}$/);
      // A container that must live through the upgrade under systemd (the unit's KillMode=process).
      const engineB = `/api/hosts/${page.url().split('/').pop()}/engine/v1.41`;
      const loaded = await fetch(`${baseUrl}${engineB}/images/load?quiet=1`, {
        method: 'POST',
        headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'content-type': 'application/x-tar' },
        body: await readFile(busybox.archivePath),
      });
      expect(loaded.status, await loaded.clone().text()).toBe(200);
      await loaded.text();
      const created = await call(baseUrl, admin, 'POST', `${engineB}/containers/create?name=through-upgrade`, {
        Image: 'busybox:latest',
        Cmd: ['sh', '-c', 'while true; do sleep 1; done'],
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect((await call(baseUrl, admin, 'POST', `${engineB}/containers/${created.body.Id}/start`)).status).toBe(204);
      const before = (await call(baseUrl, admin, 'GET', `${engineB}/containers/${created.body.Id}/json`)).body;
      const agentBefore = (await hostB.run(['systemctl', 'show', '-p', 'MainPID', '--value', 'skiff-agent'])).trim();

      await card.getByLabel(/SSH password/).fill(ROOT_PASSWORD);
      await card.getByTestId('agent-upgrade').click();
      await expect
        .poll(() => card.getByTestId('provisioned-job').textContent(), { timeout: 120_000, interval: 500 })
        .toMatch(/upgrade: succeeded \(100%\)/);
      const agentAfter = (await hostB.run(['systemctl', 'show', '-p', 'MainPID', '--value', 'skiff-agent'])).trim();
      expect(agentAfter).not.toBe(agentBefore);
      await expect
        .poll(async () => (await call(baseUrl, admin, 'GET', `${engineB}/containers/${created.body.Id}/json`)).body, {
          timeout: 30_000,
        })
        .toMatchObject({ State: { Running: true, Pid: before.State.Pid, StartedAt: before.State.StartedAt } });
      const earlier = new Set(
        ((await call(baseUrl, admin, 'GET', '/api/provisioning/jobs')).body as Job[]).map((known) => known.id),
      );
      page.once('dialog', (dialog) => void dialog.accept());
      await card.getByTestId('agent-uninstall').click();
      await expect
        .poll(
          async () =>
            ((await call(baseUrl, admin, 'GET', '/api/provisioning/jobs')).body as Job[]).find(
              (candidate) =>
                candidate.kind === 'uninstall' && candidate.address === hostB.address && !earlier.has(candidate.id),
            )?.status,
          { timeout: 120_000, interval: 500 },
        )
        .toBe('succeeded');
    } finally {
      await browser.close();
    }

    const hosts = (await call(baseUrl, admin, 'GET', '/api/hosts')).body as Array<{ name: string }>;
    expect(hosts.map((host) => host.name)).not.toContain(hostB.address);
    await expectNothingLeft(hostB);
  });
});
