import os from 'node:os';
import { errorMessage } from './error-message.js';
import { agentVersion } from './agent-version.js';
import { type EngineOptions, type RunningEngine, startEngine } from './engine/engine.js';
import { ExitCode } from './exit-code.js';
import type { Logger } from './logger.js';
import { EngineDoor } from './plane/engine-door.js';
import { EnrolmentFailedError, EnrolmentRefusedError, enrol, type EnrolOptions } from './plane/enrolment.js';
import type { HostKey } from './plane/host-key.js';
import { IdentityFileError, IdentityStore, type PlaneIdentity } from './plane/identity-store.js';
import { HOST_INVENTORY_SOURCES, collectInventory, type InventorySources } from './plane/inventory.js';
import { PlaneLink, type PlaneLinkOptions } from './plane/plane-link.js';

/** What the command line decided; see cli.ts for where each value comes from. */
export interface AgentOptions {
  /** The server's origin, e.g. "https://skiff.example.com", without a trailing slash; absent: a standalone engine. */
  server?: string;
  /** The Engine API socket. */
  socket: string;
  joinToken?: string;
  root: string;
  name?: string;
  /** `--userns-remap`: `default` or `user[:group]`. */
  usernsRemap?: string;
  /** `--bridge`, `--bridge-subnet`, `--network-pool`, `--nft-table`. */
  network?: EngineOptions['network'];
}

export interface AgentEnvironment {
  logger: Logger;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  inventorySources?: InventorySources;
  /** Overrides for tests: timings of the enrolment retries and of the link. */
  enrolment?: Partial<Pick<EnrolOptions, 'fetch' | 'giveUpAfterMs' | 'backoff' | 'sleep'>>;
  link?: Partial<Pick<PlaneLinkOptions, 'heartbeatIntervalMs' | 'reconnect' | 'authTimeoutMs'>>;
  /** Replaces the engine in tests of the link alone. */
  startEngine?: (options: EngineOptions) => Promise<RunningEngine>;
}

type EnrolledIdentity = PlaneIdentity & { hostId: string };

function isEnrolled(identity: PlaneIdentity): identity is EnrolledIdentity {
  return identity.hostId !== undefined;
}

/**
 * Runs the engine (as root) and, with a server, the link to it. Resolves with the exit status
 * when stopped, revoked, or unable to start.
 */
export async function runAgent(options: AgentOptions, environment: AgentEnvironment): Promise<ExitCode> {
  const { logger, signal } = environment;
  let engine: RunningEngine | undefined;
  if (process.getuid?.() === 0) {
    try {
      engine = await (environment.startEngine ?? startEngine)({
        root: options.root,
        socketPath: options.socket,
        version: agentVersion(),
        logger,
        ...(options.usernsRemap === undefined ? {} : { usernsRemap: options.usernsRemap }),
        ...(options.network === undefined ? {} : { network: options.network }),
      });
    } catch (error) {
      logger.error(`the engine could not start: ${errorMessage(error)}`);
      return ExitCode.Failure;
    }
  } else if (options.server === undefined) {
    logger.error('the container engine needs root: run skiff-agent as root');
    return ExitCode.Failure;
  } else {
    logger.warn('not running as root: no container engine on this host, only the link to the server');
  }
  try {
    if (options.server === undefined) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return ExitCode.Ok;
    }
    return await runLink({ ...options, server: options.server }, environment, engine);
  } finally {
    await engine?.close();
  }
}

/** Enrols the host if it has no host id yet, then keeps the link up, serving the server's engine calls. */
async function runLink(
  options: AgentOptions & { server: string },
  environment: AgentEnvironment,
  engine: RunningEngine | undefined,
): Promise<ExitCode> {
  const { logger, signal } = environment;
  const store = new IdentityStore(options.root, { logger });

  let identity: PlaneIdentity;
  let key: HostKey;
  try {
    const loaded = await store.loadOrCreate();
    ({ identity, key } = loaded);
    if (loaded.created) logger.info(`generated a new host key in ${store.path}`);
  } catch (error) {
    logger.error(error instanceof IdentityFileError ? error.message : describeStorageError(error, options.root));
    return ExitCode.Failure;
  }

  let enrolled: EnrolledIdentity;
  if (isEnrolled(identity)) {
    explainIgnoredOptions(options, identity, logger);
    enrolled = identity;
  } else {
    const result = await enrolHost(options, environment, store, identity, key);
    if (typeof result === 'number') return result;
    enrolled = result;
  }

  const link = new PlaneLink({
    serverUrl: options.server,
    hostId: enrolled.hostId,
    key,
    collectInventory: () => collectInventory(environment.inventorySources ?? HOST_INVENTORY_SOURCES, options.root),
    door: new EngineDoor({ socketPath: engine?.socketPath, logger }),
    logger,
    ...environment.link,
  });
  const outcome = await link.run(signal);
  switch (outcome.kind) {
    case 'stopped':
      logger.info('link closed, stopping');
      return ExitCode.Ok;
    case 'revoked':
      logger.error(`the server no longer accepts this host: ${outcome.error.message}`);
      logger.error(
        `this host was revoked on the server; enrol it again with a new join token after removing ${store.path}`,
      );
      return ExitCode.Revoked;
  }
}

/** Returns the enrolled identity, or the exit status when enrolment did not happen. */
async function enrolHost(
  options: AgentOptions & { server: string },
  environment: AgentEnvironment,
  store: IdentityStore,
  identity: PlaneIdentity,
  key: HostKey,
): Promise<EnrolledIdentity | ExitCode> {
  const { logger, signal } = environment;
  if (options.joinToken === undefined) {
    logger.error(
      'this host is not enrolled yet: give a join token with --join-token or SKIFF_JOIN_TOKEN (create one on the server)',
    );
    return ExitCode.Usage;
  }
  try {
    const response = await enrol({
      serverUrl: options.server,
      joinToken: options.joinToken,
      name: options.name ?? os.hostname(),
      key,
      logger,
      signal,
      ...environment.enrolment,
    });
    const enrolled: EnrolledIdentity = {
      ...identity,
      hostId: response.hostId,
      hostName: response.name,
      server: options.server,
      enrolledAt: new Date().toISOString(),
    };
    await store.save(enrolled);
    logger.info(`enrolled with ${options.server} as host ${response.name} (${response.hostId})`);
    return enrolled;
  } catch (error) {
    if (signal.aborted) {
      logger.info('stopped before the enrolment finished');
      return ExitCode.Ok;
    }
    if (error instanceof EnrolmentRefusedError) {
      logger.error(`enrolment refused: ${error.message}`);
    } else if (error instanceof EnrolmentFailedError) {
      logger.error(`enrolment failed: ${error.message}`);
    } else {
      logger.error(`enrolment failed: ${errorMessage(error)}`);
    }
    return ExitCode.Failure;
  }
}

function explainIgnoredOptions(
  options: AgentOptions & { server: string },
  identity: EnrolledIdentity,
  logger: Logger,
): void {
  const who = `${identity.hostName ?? 'unnamed'} (${identity.hostId})`;
  if (options.joinToken !== undefined) {
    logger.info(`this host is already enrolled as ${who}; the join token is not used`);
  }
  if (options.name !== undefined && options.name !== identity.hostName) {
    logger.info(`the host name is chosen at enrolment only; rename ${who} on the server instead`);
  }
  if (identity.server !== undefined && identity.server !== options.server) {
    logger.warn(`this host enrolled with ${identity.server}, connecting to ${options.server} as told`);
  }
}

function describeStorageError(error: unknown, root: string): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const hint = code === 'EACCES' || code === 'EPERM' ? ' (run as root, or choose another --root)' : '';
  return `cannot keep the plane identity under ${root}: ${errorMessage(error)}${hint}`;
}
