import { resolve } from 'node:path';
import { agentVersion } from './agent-version.js';
import { runAgent, type AgentOptions } from './agent.js';
import { DEFAULT_ENGINE_SOCKET } from './engine-api/engine-server.js';
import { ExitCode } from './exit-code.js';
import { parseRemapSpec, RemapError } from './userns/userns-remap.js';
import { errorMessage } from './error-message.js';
import { IpNetworkHost } from './networks/network-host.js';
import { removeHostNetworks } from './networks/network-service.js';
import { isLogLevel, LOG_LEVELS, stderrLogger, type LogLevel } from './logger.js';

export const DEFAULT_ROOT = '/var/lib/skiff';

export const USAGE = `Usage: skiff-agent [--server URL [--join-token TOKEN]] [options]
       skiff-agent remove-networks [--root DIR] [--bridge NAME] [--nft-table NAME]

Runs the Skiff host agent: a container engine serving the Docker Engine API on a
local socket (as root) and, with --server, an outgoing link to a Skiff server
with which the host enrols once. Without --server it is a standalone engine that
stands in for dockerd: DOCKER_HOST=unix://${DEFAULT_ENGINE_SOCKET} docker ps

Options:
  --server URL        the Skiff server, e.g. https://skiff.example.com
  --join-token TOKEN  one-time join token; needed until the host is enrolled
  --root DIR          where the agent keeps its state (default ${DEFAULT_ROOT})
  --socket PATH       the Engine API socket, root-only (default ${DEFAULT_ENGINE_SOCKET})
  --name NAME         the host's name at enrolment (default: its hostname)
  --userns-remap USER run every container in a user namespace whose root is
                      USER's first subordinate id (/etc/subuid, /etc/subgid):
                      "default" (creates the user skiffremap), user or
                      user:group; containers opt out with --userns=host
  --bridge NAME       the default bridge's interface (default skiff0)
  --bridge-subnet CIDR  its subnet (default the first of 172.31.0.0/16 down to
                      172.17.0.0/16 that no route of the host uses)
  --network-pool CIDR where user networks get their /24 subnets (default
                      172.24.0.0/14; subnets the host routes are skipped)
  --nft-table NAME    the engine's own nftables table (default skiff)
  --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default info)
  -h, --help          show this help
  -v, --version       show the agent's version

Environment (a flag wins over its variable):
  SKIFF_SERVER, SKIFF_JOIN_TOKEN, SKIFF_ROOT, SKIFF_ENGINE_SOCKET, SKIFF_HOST_NAME,
  SKIFF_LOG_LEVEL and SKIFF_USERNS_REMAP stand for --server, --join-token, --root,
  --socket, --name, --log-level and --userns-remap; SKIFF_BRIDGE, SKIFF_BRIDGE_SUBNET,
  SKIFF_NETWORK_POOL and SKIFF_NFT_TABLE for --bridge, --bridge-subnet,
  --network-pool and --nft-table.

remove-networks (run by uninstall, with the agent stopped and its containers
gone) deletes the bridges the state under --root names, the default bridge and
the engine's nftables table (or its iptables chains), and exits.

Exit status:
  0  stopped by SIGINT or SIGTERM (remove-networks: done)
  1  enrolment refused or failed, the state directory is unusable, or the
     engine could not start (it needs root)
  2  bad arguments, or no join token for a host that is not enrolled yet
  3  the server revoked this host: remove <root>/plane/identity.json and
     enrol again with a new join token
`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; options: AgentOptions; logLevel: LogLevel }
  | { kind: 'remove-networks'; root: string; bridgeName: string; table: string };

const REMOVE_NETWORKS_OPTIONS: readonly string[] = ['root', 'bridge', 'nft-table'];

type Environment = Readonly<Record<string, string | undefined>>;

const VALUE_OPTIONS = {
  server: 'SKIFF_SERVER',
  'join-token': 'SKIFF_JOIN_TOKEN',
  root: 'SKIFF_ROOT',
  socket: 'SKIFF_ENGINE_SOCKET',
  name: 'SKIFF_HOST_NAME',
  'log-level': 'SKIFF_LOG_LEVEL',
  'userns-remap': 'SKIFF_USERNS_REMAP',
  bridge: 'SKIFF_BRIDGE',
  'bridge-subnet': 'SKIFF_BRIDGE_SUBNET',
  'network-pool': 'SKIFF_NETWORK_POOL',
  'nft-table': 'SKIFF_NFT_TABLE',
} as const;

type ValueOption = keyof typeof VALUE_OPTIONS;

const SWITCHES: ReadonlyMap<string, 'help' | 'version'> = new Map([
  ['--help', 'help'],
  ['-h', 'help'],
  ['--version', 'version'],
  ['-v', 'version'],
]);

/** Turns argv (without node and the script) plus the environment into a command. Throws UsageError. */
export function parseArguments(argv: readonly string[], env: Environment): CliCommand {
  // Asking for help wins over any mistake elsewhere on the line.
  const switches = new Set(argv.map((argument) => SWITCHES.get(argument)));
  if (switches.has('help')) return { kind: 'help' };
  if (switches.has('version')) return { kind: 'version' };
  const removeNetworks = argv[0] === 'remove-networks';
  const values = scanValues(removeNetworks ? argv.slice(1) : argv);
  if (removeNetworks) {
    const extra = [...values.keys()].find((option) => !REMOVE_NETWORKS_OPTIONS.includes(option));
    if (extra) throw new UsageError(`remove-networks takes only --root, --bridge and --nft-table, not --${extra}`);
  }

  const pick = (option: ValueOption): { value: string; source: string } | undefined => {
    const fromFlag = values.get(option);
    if (fromFlag !== undefined) return { value: fromFlag, source: `--${option}` };
    const variable = VALUE_OPTIONS[option];
    const fromEnv = env[variable]?.trim();
    return fromEnv ? { value: fromEnv, source: variable } : undefined;
  };

  if (removeNetworks) {
    // Only what it needs: other settings of agent.env (server, token, name) are not its business.
    const { bridgeName, table } = bridgeAndTable(pick);
    return {
      kind: 'remove-networks',
      root: resolve(pick('root')?.value ?? DEFAULT_ROOT),
      bridgeName: bridgeName?.value ?? 'skiff0',
      table: table?.value ?? 'skiff',
    };
  }

  const server = pick('server');
  const options: AgentOptions = {
    root: resolve(pick('root')?.value ?? DEFAULT_ROOT),
    socket: resolve(pick('socket')?.value ?? DEFAULT_ENGINE_SOCKET),
  };
  if (server) options.server = parseServerUrl(server.value, server.source);
  const joinToken = pick('join-token');
  if (joinToken && !server)
    throw new UsageError('--join-token needs --server: the token enrols the host with that server');
  if (joinToken) options.joinToken = joinToken.value;
  const name = pick('name');
  if (name) options.name = parseHostName(name.value, name.source);
  const remap = pick('userns-remap');
  if (remap) {
    try {
      parseRemapSpec(remap.value);
    } catch (error) {
      throw new UsageError(
        error instanceof RemapError ? error.message.replace('--userns-remap', remap.source) : String(error),
      );
    }
    options.usernsRemap = remap.value;
  }
  const network = {
    ...bridgeAndTable(pick),
    bridgeSubnet: pick('bridge-subnet'),
    pool: pick('network-pool'),
  };
  for (const subnet of [network.bridgeSubnet, network.pool]) {
    if (subnet && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(subnet.value)) {
      throw new UsageError(`${subnet.source} must be an IPv4 CIDR such as 172.31.0.0/16`);
    }
  }
  if (network.bridgeName || network.bridgeSubnet || network.pool || network.table) {
    options.network = {
      ...(network.bridgeName ? { bridgeName: network.bridgeName.value } : {}),
      ...(network.bridgeSubnet ? { bridgeSubnet: network.bridgeSubnet.value } : {}),
      ...(network.pool ? { pool: network.pool.value } : {}),
      ...(network.table ? { table: network.table.value } : {}),
    };
  }
  return { kind: 'run', options, logLevel: parseLogLevel(pick('log-level')) };
}

type Picked = { value: string; source: string } | undefined;

/** --bridge and --nft-table (or their variables), checked. */
function bridgeAndTable(pick: (option: ValueOption) => Picked): { bridgeName: Picked; table: Picked } {
  const bridgeName = pick('bridge');
  const table = pick('nft-table');
  if (bridgeName && !/^[A-Za-z0-9_.-]{1,15}$/.test(bridgeName.value)) {
    throw new UsageError(`${bridgeName.source} must be an interface name of 1 to 15 of A-Z a-z 0-9 _ . -`);
  }
  if (table && !/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(table.value)) {
    throw new UsageError(`${table.source} must be a name of letters, digits and _ (starting with a letter)`);
  }
  return { bridgeName, table };
}

function scanValues(argv: readonly string[]): Map<ValueOption, string> {
  const values = new Map<ValueOption, string>();
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index];
    if (argument === undefined) break;
    if (!argument.startsWith('-') || argument === '-' || argument === '--') {
      throw new UsageError(`unexpected argument '${argument}': skiff-agent takes only options`);
    }
    const equals = argument.indexOf('=');
    const flag = equals === -1 ? argument : argument.slice(0, equals);
    const option = flag.startsWith('--') ? flag.slice(2) : '';
    if (!isValueOption(option)) throw new UsageError(`unknown option ${flag}`);
    if (values.has(option)) throw new UsageError(`option ${flag} is given more than once`);

    let value: string | undefined;
    if (equals !== -1) {
      value = argument.slice(equals + 1);
    } else {
      const next = argv[index + 1];
      // "--server --root /x" means the value was forgotten, not that the URL is "--root".
      if (next !== undefined && !next.startsWith('-')) {
        value = next;
        index += 1;
      }
    }
    value = value?.trim();
    if (!value) throw new UsageError(`option ${flag} needs a value`);
    values.set(option, value);
  }
  return values;
}

function isValueOption(name: string): name is ValueOption {
  return Object.hasOwn(VALUE_OPTIONS, name);
}

/** The server's origin: http(s), no path, query or credentials (the agent appends its own paths). */
export function parseServerUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${source} is not a URL: '${value}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${source} must start with http:// or https://, not ${url.protocol}//`);
  }
  if (url.username || url.password) throw new UsageError(`${source} must not contain credentials`);
  if (url.pathname !== '/' || url.search || url.hash) {
    throw new UsageError(`${source} must be the server's address without a path: ${url.origin}`);
  }
  return url.origin;
}

function parseHostName(value: string, source: string): string {
  if (value.length > 255) throw new UsageError(`${source} is longer than 255 characters`);
  if (/\p{Cc}/u.test(value)) throw new UsageError(`${source} contains control characters`);
  return value;
}

function parseLogLevel(picked: { value: string; source: string } | undefined): LogLevel {
  if (picked === undefined) return 'info';
  if (!isLogLevel(picked.value)) {
    throw new UsageError(`${picked.source} must be one of ${LOG_LEVELS.join(', ')}, not '${picked.value}'`);
  }
  return picked.value;
}

export interface CliOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processOutput: CliOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** The whole program; bin/skiff-agent.js exits with what this resolves to. */
export async function runCli(
  argv: readonly string[],
  env: Environment = process.env,
  output: CliOutput = processOutput,
): Promise<ExitCode> {
  let command: CliCommand;
  try {
    command = parseArguments(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    output.stderr(`skiff-agent: ${error.message}\nRun 'skiff-agent --help' for the options.\n`);
    return ExitCode.Usage;
  }
  switch (command.kind) {
    case 'help':
      output.stdout(USAGE);
      return ExitCode.Ok;
    case 'version':
      output.stdout(`skiff-agent ${agentVersion()}\n`);
      return ExitCode.Ok;
    case 'run':
      return runUntilStopped(command.options, command.logLevel);
    case 'remove-networks':
      return removeNetworksCommand(command, output);
  }
}

async function removeNetworksCommand(
  command: { root: string; bridgeName: string; table: string },
  output: CliOutput,
): Promise<ExitCode> {
  try {
    const removed = await removeHostNetworks({ ...command, host: new IpNetworkHost() });
    output.stdout(
      `removed the network rules (table ${command.table})` +
        (removed.length ? ` and the bridges ${removed.join(', ')}\n` : '; no bridge was left\n'),
    );
    return ExitCode.Ok;
  } catch (error) {
    output.stderr(`skiff-agent: cannot remove the networks: ${errorMessage(error)}\n`);
    return ExitCode.Failure;
  }
}

async function runUntilStopped(options: AgentOptions, logLevel: LogLevel): Promise<ExitCode> {
  const logger = stderrLogger(logLevel);
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    // Removing the handlers gives a second signal its default effect: a stuck agent can still be killed.
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    logger.info(`received ${signal}, stopping`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  logger.info(`skiff-agent ${agentVersion()} starting, state in ${options.root}`);
  try {
    return await runAgent(options, { logger, signal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
