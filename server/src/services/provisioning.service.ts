import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { ProvisioningJobSummary } from '@skiff/protocol';
import { randomUUID } from 'node:crypto';
import { SERVER_CONFIG } from '../config/config.module.js';
import type { ServerConfig } from '../config/server-config.js';
import type {
  ProvisioningJobEntity,
  ProvisioningJobKind,
  ProvisioningStepRecord,
} from '../entities/provisioning-job.entity.js';
import type { ProvisioningTargetEntity } from '../entities/provisioning-target.entity.js';
import { DomainError, conflict, invalidArgument, notFound } from '../errors/domain-error.js';
import { type AgentBundle, AgentBundleRepository, type BundleArch } from '../repositories/agent-bundle.repository.js';
import { ConsoleFeedRepository } from '../repositories/console-feed.repository.js';
import { HostRepository } from '../repositories/host.repository.js';
import { JoinTokenRepository } from '../repositories/join-token.repository.js';
import { ProvisioningRepository } from '../repositories/provisioning.repository.js';
import { type HostKey, SshRepository, type SshSession } from '../repositories/ssh.repository.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { Clock } from './clock.js';
import {
  type HostScriptCall,
  MAKE_STAGING_COMMAND,
  type PrivilegeMode,
  checkStaging,
  hostScriptCommand,
  removeStagingCommand,
} from './host-script-command.js';
import { HostService } from './host.service.js';
import { JoinTokenService } from './join-token.service.js';
import { bundleArchOf, evaluatePreflight, parsePreflight } from './provisioning-preflight.js';
import { SecretBoxService } from './secret-box.service.js';

export interface SshCredentials {
  username: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
  /** Run the host's commands through sudo (ignored for root). */
  sudo?: boolean;
  /** sudo's password when it differs from the login password. */
  sudoPassword?: string;
}

export interface InstallTarget {
  address: string;
  port?: number;
  /** The host key the operator confirmed (needed until it is pinned). */
  hostKeyFingerprint?: string;
  /** The host's name in Skiff (default: the address). */
  name?: string;
}

export interface InstallRequest {
  targets: InstallTarget[];
  credentials: SshCredentials;
  /** Keep the credentials (sealed with the server key) for later upgrades and uninstalls. */
  storeCredentials?: boolean;
}

export interface ProbeResult {
  address: string;
  port: number;
  fingerprint: string;
  algorithm: string;
  /** new: never seen, confirm it; pinned: matches the pinned key; changed: differs from the pinned key. */
  state: 'new' | 'pinned' | 'changed';
  pinnedFingerprint: string | null;
}

export type ProvisioningJobView = ProvisioningJobSummary;

export interface ProvisioningTargetView {
  id: string;
  address: string;
  port: number;
  hostKeyFingerprint: string;
  hostKeyAlgorithm: string;
  username: string | null;
  sudo: boolean;
  hasStoredCredentials: boolean;
  hostId: string | null;
  agentVersion: string | null;
}

export interface BundleView {
  version: string;
  arch: string;
  sha256: string;
  size: number;
  nodeVersion: string;
}

export const DEFAULT_SSH_PORT = 22;
const MAX_PARALLEL_JOBS = 16;
const MAX_STEP_OUTPUT = 16_384;
const EMIT_EVERY_MS = 200;
const REMOTE_STAGING_BUNDLE = 'bundle.tar.gz';

const STEP_TITLES: Readonly<Record<string, string>> = {
  connect: 'Connect and check the host key',
  preflight: 'Check the host',
  upload: 'Upload the agent bundle',
  verify: 'Verify the checksum',
  unpack: 'Unpack to /opt/skiff',
  configure: 'Configure the service',
  start: 'Start the agent',
  online: 'Wait for the host to enrol and come online',
  upgrade: 'Switch to the new release and restart the agent',
  'back-online': 'Wait for the host to come back online',
  uninstall: 'Stop the agent and remove Skiff',
  revoke: 'Revoke the host on the server',
  rollback: 'Undo what the install did',
};

const STEPS_OF: Readonly<Record<ProvisioningJobKind, readonly string[]>> = {
  install: ['connect', 'preflight', 'upload', 'verify', 'unpack', 'configure', 'start', 'online'],
  upgrade: ['connect', 'preflight', 'upload', 'verify', 'upgrade', 'back-online'],
  uninstall: ['connect', 'uninstall', 'revoke'],
};

/** A step failed: `message` says why, `hint` what to do. */
class StepFailure extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/**
 * Fleet provisioning over SSH: install, upgrade and uninstall the agent on hosts with nothing but
 * SSH, with host keys pinned on first (confirmed) contact, every step streamed to the consoles
 * and recorded on the job, and every job audited. A failed install undoes what it did.
 */
/** What to do about a job a server stop cut off, by kind. */
const INTERRUPTED_ADVICE: Record<ProvisioningJobEntity['kind'], string> = {
  install:
    'the host may hold part of the install; look at it, uninstall it (keeping data if it had any) and install again',
  upgrade: 'look at the host and run the upgrade again',
  uninstall: 'run the uninstall again',
};

@Injectable()
export class ProvisioningService implements OnApplicationBootstrap {
  private readonly logger = new Logger('provisioning');
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    private readonly provisioning: ProvisioningRepository,
    private readonly ssh: SshRepository,
    private readonly bundles: AgentBundleRepository,
    private readonly joinTokens: JoinTokenService,
    private readonly joinTokenRecords: JoinTokenRepository,
    private readonly hosts: HostRepository,
    private readonly hostService: HostService,
    private readonly secrets: SecretBoxService,
    private readonly feed: ConsoleFeedRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    @Inject(SERVER_CONFIG) private readonly config: ServerConfig,
  ) {}

  /**
   * Jobs still `running` in the database when the server starts were cut off by its stop: nothing
   * runs them any more. Each is closed as failed, with the step it was in and what to do, and
   * audited, so the console never shows a job that runs forever.
   */
  async onApplicationBootstrap(): Promise<void> {
    for (const job of await this.provisioning.listJobsWithStatus('running')) {
      const now = this.clock.now();
      const cutOff = job.steps.find((step) => step.status === 'running');
      for (const step of job.steps) {
        if (step === cutOff) {
          step.status = 'failed';
          step.error = 'the server stopped during this step';
          step.finishedAt = now.toISOString();
        } else if (step.status === 'pending') {
          step.status = 'skipped';
        }
      }
      job.status = 'failed';
      job.error =
        `the server stopped while this ${job.kind} ran` +
        (cutOff ? ` (during "${cutOff.title}")` : '') +
        `: ${INTERRUPTED_ADVICE[job.kind]}`;
      job.finishedAt = now;
      await this.provisioning.saveJob(job);
      await this.audit.record({ system: true }, null, {
        action: `provisioning.${job.kind}`,
        outcome: 'failure',
        target: `${job.address}:${job.port}`,
        hostId: job.hostId,
        error: job.error,
        durationMs: now.getTime() - job.createdAt.getTime(),
        details: {
          jobId: job.id,
          batchId: job.batchId,
          interrupted: true,
          steps: job.steps.map((step) => ({
            name: step.name,
            status: step.status,
            ...(step.error ? { error: step.error } : {}),
          })),
        },
      });
      this.logger.warn(`job ${job.id} (${job.kind} on ${job.address}:${job.port}) was cut off by a server stop`);
    }
  }

  async bundle(): Promise<BundleView> {
    const bundle = await this.bundles.current();
    return {
      version: bundle.version,
      arch: bundle.arch,
      sha256: bundle.sha256,
      size: bundle.size,
      nodeVersion: bundle.nodeVersion,
    };
  }

  currentBundle(arch?: BundleArch): Promise<AgentBundle> {
    return this.bundles.current(arch);
  }

  hostScript(): Promise<string> {
    return this.bundles.hostScript();
  }

  installScript(serverUrl: string): Promise<string> {
    return this.bundles.installScript(checkServerOrigin(serverUrl));
  }

  /** Connects far enough to see the host key, and compares it with the pinned one. */
  async probe(actor: Actor, origin: RequestOrigin, address: string, port = DEFAULT_SSH_PORT): Promise<ProbeResult> {
    const key = await this.ssh.probe({ address, port });
    const pinned = await this.provisioning.findTarget(address, port);
    const state = pinned === null ? 'new' : pinned.hostKeyFingerprint === key.fingerprint ? 'pinned' : 'changed';
    await this.audit.record({ actor }, origin, {
      action: 'provisioning.probe',
      outcome: 'success',
      target: `${address}:${port}`,
      details: { fingerprint: key.fingerprint, algorithm: key.algorithm, state },
    });
    return {
      address,
      port,
      fingerprint: key.fingerprint,
      algorithm: key.algorithm,
      state,
      pinnedFingerprint: pinned?.hostKeyFingerprint ?? null,
    };
  }

  async listTargets(): Promise<ProvisioningTargetView[]> {
    return (await this.provisioning.listTargets()).map(targetView);
  }

  /** Forgets a target: its pinned host key and any kept credentials. */
  async forgetTarget(actor: Actor, origin: RequestOrigin, id: string): Promise<void> {
    const target = await this.provisioning.findTargetById(id);
    if (!target || !(await this.provisioning.deleteTarget(id))) throw notFound(`no such provisioning target: ${id}`);
    await this.audit.record({ actor }, origin, {
      action: 'provisioning.target.forget',
      outcome: 'success',
      target: `${target.address}:${target.port}`,
      hostId: target.hostId,
      details: { fingerprint: target.hostKeyFingerprint },
    });
  }

  async getJob(id: string): Promise<ProvisioningJobView> {
    const job = await this.provisioning.findJob(id);
    if (!job) throw notFound(`no such provisioning job: ${id}`);
    return jobView(job);
  }

  async listJobs(batchId?: string, limit = 100): Promise<ProvisioningJobView[]> {
    return (await this.provisioning.listJobs(limit, batchId)).map(jobView);
  }

  /** Starts one install job per target (all in parallel); they run on after this returns. */
  async install(
    actor: Actor,
    origin: RequestOrigin,
    request: InstallRequest,
    serverUrl: string,
  ): Promise<ProvisioningJobView[]> {
    checkCredentials(request.credentials);
    checkServerOrigin(serverUrl);
    const seen = new Set<string>();
    const targets = request.targets.map((target) => ({ ...target, port: target.port ?? DEFAULT_SSH_PORT }));
    for (const target of targets) {
      const key = `${target.address}:${target.port}`;
      if (seen.has(key)) throw invalidArgument(`${key} is listed twice`);
      seen.add(key);
      const pinned = await this.provisioning.findTarget(target.address, target.port);
      if (!pinned && !target.hostKeyFingerprint) {
        throw invalidArgument(
          `the host key of ${key} is not confirmed yet: probe it (POST /api/provisioning/probe), check the ` +
            'fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and give it as hostKeyFingerprint',
        );
      }
    }
    // Made (or checked) once before any job starts: a missing build fails the request, not every host.
    const bundle = await this.bundles.current();
    const batchId = randomUUID();
    const views: ProvisioningJobView[] = [];
    for (const target of targets) {
      const job = await this.newJob('install', batchId, target.address, target.port, actor);
      views.push(jobView(job));
      this.schedule(job, () => this.runInstall(job, actor, origin, target, request, bundle, serverUrl));
    }
    return views;
  }

  /** Upgrades the agent on a target installed before to the server's bundle; containers keep running. */
  async upgrade(
    actor: Actor,
    origin: RequestOrigin,
    targetId: string,
    credentials: SshCredentials | undefined,
  ): Promise<ProvisioningJobView> {
    const target = await this.targetById(targetId);
    const login = await this.loginFor(target, credentials);
    const bundle = await this.bundles.current();
    const job = await this.newJob('upgrade', randomUUID(), target.address, target.port, actor, target);
    this.schedule(job, () => this.runUpgrade(job, actor, origin, target, login, bundle));
    return jobView(job);
  }

  /** Stops the agent, removes Skiff from the host (keeping /var/lib/skiff with keepData) and revokes the host. */
  async uninstall(
    actor: Actor,
    origin: RequestOrigin,
    targetId: string,
    keepData: boolean,
    credentials: SshCredentials | undefined,
  ): Promise<ProvisioningJobView> {
    const target = await this.targetById(targetId);
    const login = await this.loginFor(target, credentials);
    const job = await this.newJob('uninstall', randomUUID(), target.address, target.port, actor, target);
    this.schedule(job, () => this.runUninstall(job, actor, origin, target, login, keepData));
    return jobView(job);
  }

  /** A fresh join token and the one-line command that installs and enrols the agent by hand. */
  async manualInstall(
    actor: Actor,
    origin: RequestOrigin,
    serverUrl: string,
    ttlSeconds?: number,
  ): Promise<{ command: string; token: string; expiresAt: Date; scriptUrl: string }> {
    const scriptUrl = `${checkServerOrigin(serverUrl)}/api/provisioning/install.sh`;
    const created = await this.joinTokens.create(actor, ttlSeconds, origin);
    return {
      command: `curl -fsSL ${scriptUrl} | sudo sh -s -- --join-token ${created.token}`,
      token: created.token,
      expiresAt: created.expiresAt,
      scriptUrl,
    };
  }

  private async targetById(id: string): Promise<ProvisioningTargetEntity> {
    const target = await this.provisioning.findTargetById(id);
    if (!target) throw notFound(`no such provisioning target: ${id}`);
    return target;
  }

  private async loginFor(
    target: ProvisioningTargetEntity,
    credentials: SshCredentials | undefined,
  ): Promise<SshCredentials> {
    if (credentials) {
      checkCredentials(credentials);
      return credentials;
    }
    if (target.credentials === null) {
      throw invalidArgument(
        `no credentials are kept for ${target.address}:${target.port}: give the SSH login (credentials) with the request`,
      );
    }
    return JSON.parse(
      (await this.secrets.open(target.credentials, credentialPurpose(target.id))).toString('utf8'),
    ) as SshCredentials;
  }

  private async newJob(
    kind: ProvisioningJobKind,
    batchId: string,
    address: string,
    port: number,
    actor: Actor,
    target?: ProvisioningTargetEntity,
  ): Promise<ProvisioningJobEntity> {
    return this.provisioning.createJob({
      batchId,
      kind,
      address,
      port,
      targetId: target?.id ?? null,
      status: 'running',
      steps: STEPS_OF[kind].map((name) => ({ name, title: STEP_TITLES[name] ?? name, status: 'pending', output: '' })),
      error: null,
      hostId: target?.hostId ?? null,
      createdBy: actor.userId,
      finishedAt: null,
    });
  }

  /** Runs at most MAX_PARALLEL_JOBS at once; the rest wait their turn. */
  private schedule(job: ProvisioningJobEntity, body: () => Promise<void>): void {
    const start = () => {
      this.running += 1;
      body()
        .catch((error: unknown) => this.logger.error(`job ${job.id} crashed: ${String(error)}`))
        .finally(() => {
          this.running -= 1;
          this.queue.shift()?.();
        });
    };
    if (this.running < MAX_PARALLEL_JOBS) start();
    else this.queue.push(start);
  }

  // --- install --------------------------------------------------------------------------------

  private async runInstall(
    job: ProvisioningJobEntity,
    actor: Actor,
    origin: RequestOrigin,
    target: InstallTarget & { port: number },
    request: InstallRequest,
    made: AgentBundle,
    serverUrl: string,
  ): Promise<void> {
    const tracker = new JobTracker(job, this.provisioning, this.feed, this.clock);
    const started = this.clock.now();
    let bundle = made;
    await this.recordStart(actor, origin, job, {});
    let remote: RemoteHost | undefined;
    let failure: string | null = null;
    let touched = false;
    let tokenId: string | undefined;
    let hostKey: HostKey | undefined;
    try {
      remote = await tracker.step('connect', async (log) => {
        const connected = await this.connect(job, target, request.credentials, target.hostKeyFingerprint);
        hostKey = connected.session.hostKey;
        log(
          `connected to ${job.address}:${job.port} as ${request.credentials.username}; host key ${hostKey.fingerprint} (${hostKey.algorithm})\n`,
        );
        return connected;
      });
      const connected = remote;
      if (request.storeCredentials) {
        await this.provisioning.updateTarget(connected.target.id, {
          username: request.credentials.username,
          sudo: request.credentials.sudo ?? false,
          credentials: await this.secrets.seal(
            Buffer.from(JSON.stringify(request.credentials)),
            credentialPurpose(connected.target.id),
          ),
        });
      } else {
        await this.provisioning.updateTarget(connected.target.id, {
          username: request.credentials.username,
          sudo: request.credentials.sudo ?? false,
        });
      }
      job.targetId = connected.target.id;
      const arch = await tracker.step('preflight', (log) => this.preflight(connected, 'install', log));
      await tracker.step('upload', async (log, progress) => {
        bundle = await this.bundleFor(arch, made, log);
        await this.uploadBundle(connected, bundle, log, progress);
      });
      await tracker.step('verify', (log) =>
        connected.script({ subcommand: 'verify', staging: connected.staging, sha256: bundle.sha256 }, log),
      );
      touched = true;
      await tracker.step('unpack', (log) =>
        connected.script({ subcommand: 'unpack', staging: connected.staging, sha256: bundle.sha256 }, log),
      );
      await tracker.step('configure', async (log) => {
        const token = await this.joinTokens.create(actor, 900, origin);
        tokenId = token.id;
        log(`made a one-time join token (expires ${token.expiresAt.toISOString()})\n`);
        await connected.session.writeFile(
          `${connected.staging}/agent.env`,
          agentEnv(serverUrl, token.token, target.name ?? job.address),
          0o600,
        );
        await connected.script({ subcommand: 'configure', staging: connected.staging }, log);
      });
      await tracker.step('start', (log) => connected.script({ subcommand: 'start' }, log));
      await tracker.step('online', async (log) => {
        const agentLog = () => connected.script({ subcommand: 'log' }, () => undefined);
        const hostId = await this.waitForEnrolment(tokenId as string, job, log, agentLog);
        await this.waitOnline(hostId, null, log, agentLog);
        log(`host ${hostId} is online\n`);
      });
      await this.provisioning.updateTarget(connected.target.id, { hostId: job.hostId, agentVersion: bundle.version });
    } catch (error) {
      failure = errorMessage(error);
      if (touched && remote) {
        const connected = remote;
        await tracker
          .extraStep('rollback', async (log) => {
            await connected.script({ subcommand: 'rollback' }, log);
          })
          .catch(() => undefined);
      }
      if (tokenId) await this.joinTokenRecords.expire(tokenId, this.clock.now());
      if (job.hostId) {
        await this.hostService.revoke(actor, job.hostId, origin).catch(() => undefined);
        job.hostId = null;
      }
    }
    // The staging directory goes before the job says it is over.
    await remote?.close();
    await tracker.finish(failure, () =>
      this.recordEnd(actor, origin, job, started, { bundle: bundle.version, hostKey: hostKey?.fingerprint }),
    );
  }

  // --- upgrade --------------------------------------------------------------------------------

  private async runUpgrade(
    job: ProvisioningJobEntity,
    actor: Actor,
    origin: RequestOrigin,
    target: ProvisioningTargetEntity,
    login: SshCredentials,
    made: AgentBundle,
  ): Promise<void> {
    const tracker = new JobTracker(job, this.provisioning, this.feed, this.clock);
    const started = this.clock.now();
    let bundle = made;
    await this.recordStart(actor, origin, job, { from: target.agentVersion });
    let remote: RemoteHost | undefined;
    let failure: string | null = null;
    try {
      remote = await tracker.step('connect', async (log) => {
        const connected = await this.connect(job, target, login, undefined);
        log(
          `connected to ${job.address}:${job.port}; host key ${connected.session.hostKey.fingerprint} matches the pinned one\n`,
        );
        return connected;
      });
      const connected = remote;
      const arch = await tracker.step('preflight', (log) => this.preflight(connected, 'upgrade', log));
      await tracker.step('upload', async (log, progress) => {
        bundle = await this.bundleFor(arch, made, log);
        await this.uploadBundle(connected, bundle, log, progress);
      });
      await tracker.step('verify', (log) =>
        connected.script({ subcommand: 'verify', staging: connected.staging, sha256: bundle.sha256 }, log),
      );
      let restartedAt = this.clock.now();
      await tracker.step('upgrade', async (log) => {
        await connected.script({ subcommand: 'upgrade', staging: connected.staging, sha256: bundle.sha256 }, log);
        restartedAt = this.clock.now();
      });
      await tracker.step('back-online', async (log) => {
        if (!target.hostId) {
          log('this target has no enrolled host on record; not waiting\n');
          return;
        }
        await this.waitOnline(target.hostId, restartedAt, log, async () =>
          connected.script({ subcommand: 'log' }, () => undefined),
        );
        log(`host ${target.hostId} is online again\n`);
      });
      await this.provisioning.updateTarget(target.id, { agentVersion: bundle.version });
    } catch (error) {
      failure = errorMessage(error);
    }
    await remote?.close();
    await tracker.finish(failure, () => this.recordEnd(actor, origin, job, started, { bundle: bundle.version }));
  }

  // --- uninstall ------------------------------------------------------------------------------

  private async runUninstall(
    job: ProvisioningJobEntity,
    actor: Actor,
    origin: RequestOrigin,
    target: ProvisioningTargetEntity,
    login: SshCredentials,
    keepData: boolean,
  ): Promise<void> {
    const tracker = new JobTracker(job, this.provisioning, this.feed, this.clock);
    const started = this.clock.now();
    await this.recordStart(actor, origin, job, { keepData });
    let remote: RemoteHost | undefined;
    let failure: string | null = null;
    try {
      remote = await tracker.step('connect', async (log) => {
        const connected = await this.connect(job, target, login, undefined);
        log(`connected to ${job.address}:${job.port}\n`);
        return connected;
      });
      const connected = remote;
      await tracker.step('uninstall', (log) => connected.script({ subcommand: 'uninstall', keepData }, log));
      await tracker.step('revoke', async (log) => {
        const host = target.hostId ? await this.hosts.findById(target.hostId) : null;
        if (!host || host.revokedAt) {
          log('no enrolled host on record for this target\n');
          return;
        }
        await this.hostService.revoke(actor, host.id, origin);
        log(`revoked host ${host.name} (${host.id})\n`);
      });
      await this.provisioning.updateTarget(target.id, { hostId: null, agentVersion: null });
    } catch (error) {
      failure = errorMessage(error);
    }
    await remote?.close();
    await tracker.finish(failure, () => this.recordEnd(actor, origin, job, started, { keepData }));
  }

  // --- steps ----------------------------------------------------------------------------------

  /**
   * Connects with the host key checked against the pinned one (or, on first contact, the one the
   * operator confirmed, which is pinned once the login succeeded), then makes the staging
   * directory and uploads skiff-host.sh into it.
   */
  private async connect(
    job: ProvisioningJobEntity,
    where: { address: string; port: number },
    login: SshCredentials,
    confirmed: string | undefined,
  ): Promise<RemoteHost> {
    const pinned = await this.provisioning.findTarget(where.address, where.port);
    const name = `${where.address}:${where.port}`;
    const session = await this.ssh.connect(
      where,
      { username: login.username, ...pick(login, ['password', 'privateKey', 'passphrase']) },
      (offered) => {
        if (pinned) {
          return offered.fingerprint === pinned.hostKeyFingerprint
            ? null
            : `the host key of ${name} has changed: ${pinned.hostKeyFingerprint} (${pinned.hostKeyAlgorithm}) is pinned, ` +
                `the host now offers ${offered.fingerprint} (${offered.algorithm}). Refusing to connect: someone may be ` +
                'intercepting the connection. If the host was reinstalled, check its new key on the host ' +
                '(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), forget the old one ' +
                `(DELETE /api/provisioning/targets/${pinned.id}) and confirm the new one`;
        }
        return offered.fingerprint === confirmed
          ? null
          : `the host key of ${name} is ${offered.fingerprint} (${offered.algorithm}), not the confirmed ` +
              `${confirmed ?? '(none)'}: probe the host again and confirm the key it shows`;
      },
    );
    try {
      const target =
        pinned ??
        (await this.provisioning.pinTarget({
          address: where.address,
          port: where.port,
          hostKeyFingerprint: session.hostKey.fingerprint,
          hostKeyAlgorithm: session.hostKey.algorithm,
        }));
      if (target.hostKeyFingerprint !== session.hostKey.fingerprint) {
        throw conflict(`another request pinned a different host key for ${name} meanwhile: probe the host again`);
      }
      job.targetId = target.id;
      const privilege: PrivilegeMode = {
        sudo: login.username !== 'root' && (login.sudo ?? false),
        withPassword: (login.sudoPassword ?? login.password) !== undefined,
      };
      const made = await session.exec(MAKE_STAGING_COMMAND, { timeoutMs: 30_000 });
      if (made.code !== 0) {
        throw new StepFailure(
          `cannot make a staging directory in /tmp: ${made.stderr.trim()}`,
          'check that /tmp is writable',
        );
      }
      const staging = checkStaging(made.stdout.trim());
      const remote = new RemoteHost(session, staging, privilege, login.sudoPassword ?? login.password, target);
      await session.writeFile(`${staging}/skiff-host.sh`, await this.bundles.hostScript(), 0o700);
      return remote;
    } catch (error) {
      session.close();
      throw error;
    }
  }

  /** Checks the host; resolves with the architecture of the bundle it needs. */
  private async preflight(
    remote: RemoteHost,
    kind: 'install' | 'upgrade',
    log: (text: string) => void,
  ): Promise<BundleArch> {
    const output = await remote.script({ subcommand: 'preflight' }, () => undefined);
    const facts = parsePreflight(output);
    if (facts.uid !== 0 && !remote.privilege.sudo) {
      throw new StepFailure(
        `the login runs as uid ${facts.uid ?? '?'}, not root`,
        'log in as root, or turn on sudo for a user who may use it',
      );
    }
    const checks = evaluatePreflight(facts, { kind, arches: await this.bundles.buildableArches() });
    for (const check of checks) {
      log(`${check.ok ? (check.warning ? 'warn' : ' ok ') : 'FAIL'}  ${check.name}: ${check.message}\n`);
    }
    log(`service: ${facts.systemd ? 'systemd unit skiff-agent.service' : 'no systemd: a supervised process'}\n`);
    const failed = checks.filter((check) => !check.ok);
    if (failed.length > 0) {
      throw new StepFailure(
        `the host does not meet the requirements: ${failed.map((check) => `${check.name}: ${check.message}`).join('; ')}`,
      );
    }
    return bundleArchOf(facts.arch) as BundleArch;
  }

  /** The bundle for the host's architecture: the one made before the job for the server's own, else made now. */
  private async bundleFor(arch: BundleArch, made: AgentBundle, log: (text: string) => void): Promise<AgentBundle> {
    if (arch === made.arch) return made;
    log(`making the agent bundle for ${arch} (skiff-shim cross-compiled)\n`);
    return this.bundles.current(arch);
  }

  private async uploadBundle(
    remote: RemoteHost,
    bundle: AgentBundle,
    log: (text: string) => void,
    progress: (fraction: number) => void,
  ): Promise<void> {
    log(`bundle ${bundle.version}, ${(bundle.size / 1048576).toFixed(1)} MiB, sha256 ${bundle.sha256}\n`);
    let lastLogged = 0;
    await remote.session.upload(bundle.path, `${remote.staging}/${REMOTE_STAGING_BUNDLE}`, (sent, total) => {
      progress(total > 0 ? sent / total : 1);
      if (sent - lastLogged >= 8 * 1048576 || sent === total) {
        lastLogged = sent;
        log(`${(sent / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MiB\n`);
      }
    });
  }

  private async waitForEnrolment(
    tokenId: string,
    job: ProvisioningJobEntity,
    log: (text: string) => void,
    agentLog: () => Promise<string>,
  ): Promise<string> {
    const deadline = Date.now() + this.config.provisionOnlineTimeoutMs;
    while (Date.now() < deadline) {
      const token = await this.joinTokenRecords.findById(tokenId);
      if (token?.hostId) {
        job.hostId = token.hostId;
        log(`the agent enrolled as host ${token.hostId}\n`);
        return token.hostId;
      }
      await sleep(500);
    }
    log(`the agent's log:\n${await agentLog().catch(() => '')}`);
    throw new StepFailure(
      `the agent did not enrol within ${this.config.provisionOnlineTimeoutMs / 1000} s`,
      'check that the host can reach the server at the address in /etc/skiff/agent.env (SKIFF_SERVER) and read the agent log',
    );
  }

  private async waitOnline(
    hostId: string,
    after: Date | null,
    log: (text: string) => void,
    agentLog: () => Promise<string>,
  ): Promise<void> {
    const deadline = Date.now() + this.config.provisionOnlineTimeoutMs;
    while (Date.now() < deadline) {
      const host = await this.hosts.findById(hostId);
      if (
        host?.status === 'online' &&
        (after === null || (host.lastSeenAt !== null && host.lastSeenAt.getTime() >= after.getTime()))
      ) {
        return;
      }
      await sleep(500);
    }
    const tail = await agentLog().catch(() => '');
    log(`the agent's log:\n${tail}`);
    throw new StepFailure(
      `host ${hostId} did not come online within ${this.config.provisionOnlineTimeoutMs / 1000} s`,
      'read the agent log above; check that the host can reach the server',
    );
  }

  private async recordStart(
    actor: Actor,
    origin: RequestOrigin,
    job: ProvisioningJobEntity,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.audit.record({ actor }, origin, {
      action: `provisioning.${job.kind}.start`,
      outcome: 'success',
      target: `${job.address}:${job.port}`,
      hostId: job.hostId,
      details: { jobId: job.id, batchId: job.batchId, ...details },
    });
  }

  private async recordEnd(
    actor: Actor,
    origin: RequestOrigin,
    job: ProvisioningJobEntity,
    started: Date,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.audit.record({ actor }, origin, {
      action: `provisioning.${job.kind}`,
      outcome: job.status === 'succeeded' ? 'success' : 'failure',
      target: `${job.address}:${job.port}`,
      hostId: job.hostId,
      error: job.error,
      durationMs: this.clock.now().getTime() - started.getTime(),
      details: {
        jobId: job.id,
        batchId: job.batchId,
        ...details,
        steps: job.steps.map((step) => ({
          name: step.name,
          status: step.status,
          ...(step.error ? { error: step.error } : {}),
        })),
      },
    });
  }
}

/** A connection to a host with its staging directory, running skiff-host.sh subcommands. */
class RemoteHost {
  constructor(
    readonly session: SshSession,
    readonly staging: string,
    readonly privilege: PrivilegeMode,
    private readonly sudoPassword: string | undefined,
    readonly target: ProvisioningTargetEntity,
  ) {}

  /** Runs a subcommand; resolves with its stdout, throws a StepFailure with its last words when it fails. */
  async script(call: HostScriptCall, log: (text: string) => void): Promise<string> {
    const result = await this.session.exec(hostScriptCommand(this.staging, call, this.privilege), {
      ...(this.privilege.sudo && this.privilege.withPassword ? { stdin: `${this.sudoPassword ?? ''}\n` } : {}),
      onOutput: log,
    });
    if (result.code === 0) return result.stdout;
    const stderr = result.stderr.trim();
    if (
      this.privilege.sudo &&
      /incorrect password|password is required|no password was provided|not in the sudoers|may not run sudo/i.test(
        stderr,
      )
    ) {
      throw new StepFailure(
        `sudo refused: ${lastLine(stderr)}`,
        'check the sudo password and that the user may use sudo',
      );
    }
    throw new StepFailure(
      lastLine(stderr) || `skiff-host.sh ${call.subcommand} failed (${result.signal ?? `exit status ${result.code}`})`,
    );
  }

  async close(): Promise<void> {
    await this.session.exec(removeStagingCommand(this.staging), { timeoutMs: 30_000 }).catch(() => undefined);
    this.session.close();
  }
}

/** Keeps a job's steps, persists them and pushes them to the consoles as they change. */
class JobTracker {
  private emitTimer: NodeJS.Timeout | undefined;
  private current: ProvisioningStepRecord | undefined;
  private currentFraction = 0;

  constructor(
    private readonly job: ProvisioningJobEntity,
    private readonly provisioning: ProvisioningRepository,
    private readonly feed: ConsoleFeedRepository,
    private readonly clock: Clock,
  ) {}

  async step<T>(
    name: string,
    body: (log: (text: string) => void, progress: (fraction: number) => void) => Promise<T>,
  ): Promise<T> {
    const step = this.job.steps.find((candidate) => candidate.name === name);
    if (!step) throw new Error(`job ${this.job.kind} has no step ${name}`);
    return this.runStep(step, body);
  }

  /** A step that appears only when needed (the rollback of a failed install). */
  async extraStep(name: string, body: (log: (text: string) => void) => Promise<void>): Promise<void> {
    const step: ProvisioningStepRecord = { name, title: STEP_TITLES[name] ?? name, status: 'pending', output: '' };
    this.job.steps.push(step);
    await this.runStep(step, body);
  }

  private async runStep<T>(
    step: ProvisioningStepRecord,
    body: (log: (text: string) => void, progress: (fraction: number) => void) => Promise<T>,
  ): Promise<T> {
    step.status = 'running';
    step.startedAt = this.clock.now().toISOString();
    this.current = step;
    this.currentFraction = 0;
    await this.save();
    const log = (text: string) => {
      step.output = tail(step.output + text);
      this.emitSoon();
    };
    try {
      const result = await body(log, (fraction) => {
        this.currentFraction = Math.max(0, Math.min(1, fraction));
        this.emitSoon();
      });
      step.status = 'succeeded';
      return result;
    } catch (error) {
      step.status = 'failed';
      step.error = errorMessage(error);
      throw error;
    } finally {
      step.finishedAt = this.clock.now().toISOString();
      this.current = undefined;
      await this.save();
    }
  }

  /** Ends the job; `record` (the audit row) is written before anyone can see that it ended. */
  async finish(error: string | null, record: () => Promise<void>): Promise<void> {
    this.job.status = error === null ? 'succeeded' : 'failed';
    this.job.error = error;
    this.job.finishedAt = this.clock.now();
    for (const step of this.job.steps) if (step.status === 'pending') step.status = 'skipped';
    await record();
    await this.save();
  }

  private emitSoon(): void {
    this.emitTimer ??= setTimeout(() => {
      this.emitTimer = undefined;
      this.feed.provisioningJob(jobView(this.job, this.current ? this.currentFraction : 0));
    }, EMIT_EVERY_MS);
  }

  private async save(): Promise<void> {
    clearTimeout(this.emitTimer);
    this.emitTimer = undefined;
    await this.provisioning.saveJob(this.job);
    this.feed.provisioningJob(jobView(this.job, this.current ? this.currentFraction : 0));
  }
}

export function jobView(job: ProvisioningJobEntity, currentFraction = 0): ProvisioningJobView {
  const counted = job.steps.filter((step) => step.name !== 'rollback');
  const done = counted.filter((step) => step.status === 'succeeded' || step.status === 'skipped').length;
  const running = counted.some((step) => step.status === 'running') ? currentFraction : 0;
  const progress =
    job.status === 'succeeded' ? 100 : Math.floor(((done + running) / Math.max(1, counted.length)) * 100);
  return {
    id: job.id,
    batchId: job.batchId,
    kind: job.kind,
    address: job.address,
    port: job.port,
    status: job.status,
    progress,
    steps: job.steps,
    error: job.error,
    hostId: job.hostId,
    targetId: job.targetId,
    createdAt: job.createdAt.toISOString(),
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}

function targetView(target: ProvisioningTargetEntity): ProvisioningTargetView {
  return {
    id: target.id,
    address: target.address,
    port: target.port,
    hostKeyFingerprint: target.hostKeyFingerprint,
    hostKeyAlgorithm: target.hostKeyAlgorithm,
    username: target.username,
    sudo: target.sudo,
    hasStoredCredentials: target.credentials !== null,
    hostId: target.hostId,
    agentVersion: target.agentVersion,
  };
}

function checkCredentials(credentials: SshCredentials): void {
  if (credentials.password === undefined && credentials.privateKey === undefined) {
    throw invalidArgument('give a password or a private key for the SSH login');
  }
}

/**
 * The server's address as hosts are told it (from the request's Host header or the caller):
 * `http(s)://host[:port]` and nothing else, since it goes into agent.env and install.sh.
 */
export function checkServerOrigin(serverUrl: string): string {
  if (!/^https?:\/\/[A-Za-z0-9.\-:[\]]+$/.test(serverUrl)) throw invalidArgument(`not a server origin: ${serverUrl}`);
  return serverUrl;
}

/** agent.env: values checked so that no line break or odd byte reaches the file. */
export function agentEnv(serverUrl: string, token: string, name: string): string {
  checkServerOrigin(serverUrl);
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new Error('unexpected join token format');
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,253}$/.test(name)) {
    throw invalidArgument(`the host name ${JSON.stringify(name)} may hold letters, digits, '.', '_', ':' and '-' only`);
  }
  return `SKIFF_SERVER=${serverUrl}\nSKIFF_JOIN_TOKEN=${token}\nSKIFF_HOST_NAME=${name}\n`;
}

const credentialPurpose = (targetId: string): string => `ssh-credentials:${targetId}`;

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (value[key] !== undefined) picked[key] = value[key];
  return picked;
}

function errorMessage(error: unknown): string {
  if (error instanceof StepFailure) return error.hint ? `${error.message}. What to do: ${error.hint}` : error.message;
  if (error instanceof DomainError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1]?.trim() ?? '';
}

function tail(text: string): string {
  return text.length > MAX_STEP_OUTPUT ? `…${text.slice(text.length - MAX_STEP_OUTPUT)}` : text;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
