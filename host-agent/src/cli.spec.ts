import { DEFAULT_ENGINE_SOCKET } from './engine-api/engine-server.js';
import { describe, expect, it } from 'vitest';
import { agentVersion } from './agent-version.js';
import { DEFAULT_ROOT, UsageError, parseArguments, runCli, type CliCommand } from './cli.js';
import { ExitCode } from './exit-code.js';

const run = (command: CliCommand): Extract<CliCommand, { kind: 'run' }> => {
  if (command.kind !== 'run') throw new Error(`expected a run command, got ${command.kind}`);
  return command;
};

describe('parseArguments', () => {
  it('reads every option, in both the "--flag value" and the "--flag=value" form', () => {
    const command = parseArguments(
      [
        '--server',
        'https://skiff.test',
        '--join-token=skj_abc',
        '--root',
        '/srv/skiff',
        '--name=web-1',
        '--log-level',
        'debug',
      ],
      {},
    );

    expect(command).toEqual({
      kind: 'run',
      options: {
        server: 'https://skiff.test',
        joinToken: 'skj_abc',
        root: '/srv/skiff',
        socket: DEFAULT_ENGINE_SOCKET,
        name: 'web-1',
      },
      logLevel: 'debug',
    });
  });

  it(`keeps state in ${DEFAULT_ROOT} unless told otherwise and logs at info`, () => {
    const command = run(parseArguments(['--server', 'http://10.0.0.1:8080'], {}));

    expect(command.options).toEqual({
      server: 'http://10.0.0.1:8080',
      root: DEFAULT_ROOT,
      socket: DEFAULT_ENGINE_SOCKET,
    });
    expect(command.logLevel).toBe('info');
  });

  it('falls back to the SKIFF_* environment variables', () => {
    const command = run(
      parseArguments([], {
        SKIFF_SERVER: 'https://skiff.test',
        SKIFF_JOIN_TOKEN: 'skj_env\n',
        SKIFF_ROOT: '/srv/skiff',
        SKIFF_ENGINE_SOCKET: '/tmp/engine.sock',
        SKIFF_HOST_NAME: 'db-1',
        SKIFF_LOG_LEVEL: 'warn',
      }),
    );

    expect(command.options).toEqual({
      server: 'https://skiff.test',
      joinToken: 'skj_env',
      root: '/srv/skiff',
      socket: '/tmp/engine.sock',
      name: 'db-1',
    });
    expect(command.logLevel).toBe('warn');
  });

  it('prefers a flag to its environment variable and ignores empty variables', () => {
    const command = run(
      parseArguments(['--server', 'https://flag.test'], { SKIFF_SERVER: 'https://env.test', SKIFF_JOIN_TOKEN: '' }),
    );

    expect(command.options.server).toBe('https://flag.test');
    expect(command.options.joinToken).toBeUndefined();
  });

  it('reduces the server URL to its origin and resolves a relative root', () => {
    const command = run(parseArguments(['--server', 'HTTPS://Skiff.Test:443/', '--root', 'state'], {}));

    expect(command.options.server).toBe('https://skiff.test');
    expect(command.options.root).toBe(`${process.cwd()}/state`);
  });

  it.each([
    [['--help'], 'help'],
    [['-h', '--bogus-later-is-not-read'], 'help'],
    [['--version'], 'version'],
    [['-v'], 'version'],
  ])('answers %j with %s, even without --server', (argv, kind) => {
    expect(parseArguments(argv, {}).kind).toBe(kind);
  });

  it.each([
    [['--join-token', 'skj_x'], '--join-token needs --server: the token enrols the host with that server'],
    [['--server'], 'option --server needs a value'],
    [['--server', '--root', '/x'], 'option --server needs a value'],
    [['--server='], 'option --server needs a value'],
    [['--frobnicate'], 'unknown option --frobnicate'],
    [['-x'], 'unknown option -x'],
    [['start'], "unexpected argument 'start': skiff-agent takes only options"],
    [['--server', 'https://a.test', '--server', 'https://b.test'], 'option --server is given more than once'],
    [['--server', 'skiff.test'], "--server is not a URL: 'skiff.test'"],
    [['--server', 'wss://skiff.test'], '--server must start with http:// or https://, not wss://'],
    [
      ['--server', 'https://skiff.test/api'],
      "--server must be the server's address without a path: https://skiff.test",
    ],
    [['--server', 'https://user:pw@skiff.test'], '--server must not contain credentials'],
    [
      ['--server', 'https://skiff.test', '--log-level', 'loud'],
      "--log-level must be one of debug, info, warn, error, not 'loud'",
    ],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseArguments(argv, {})).toThrow(new UsageError(message));
  });

  it('parses remove-networks with its three options, from flags or the environment', () => {
    expect(parseArguments(['remove-networks'], {})).toEqual({
      kind: 'remove-networks',
      root: '/var/lib/skiff',
      bridgeName: 'skiff0',
      table: 'skiff',
    });
    expect(
      parseArguments(['remove-networks', '--root', '/srv/skiff', '--bridge', 'br7'], {
        SKIFF_NFT_TABLE: 'other',
        SKIFF_SERVER: 'https://skiff.test',
      }),
    ).toEqual({ kind: 'remove-networks', root: '/srv/skiff', bridgeName: 'br7', table: 'other' });
    expect(() => parseArguments(['remove-networks', '--server', 'https://skiff.test'], {})).toThrow(
      new UsageError('remove-networks takes only --root, --bridge and --nft-table, not --server'),
    );
    // agent.env's other settings (read into its environment by skiff-host.sh) do not matter to it.
    expect(
      parseArguments(['remove-networks'], { SKIFF_SERVER: 'ftp://old.example', SKIFF_JOIN_TOKEN: 'skj_x' }).kind,
    ).toBe('remove-networks');
    expect(() => parseArguments(['remove-networks', '--nft-table', 'bad-name'], {})).toThrow(
      new UsageError('--nft-table must be a name of letters, digits and _ (starting with a letter)'),
    );
  });

  it('names the environment variable when its value is wrong', () => {
    expect(() => parseArguments([], { SKIFF_SERVER: 'ftp://skiff.test' })).toThrow(
      'SKIFF_SERVER must start with http:// or https://, not ftp://',
    );
  });

  it('takes --userns-remap or SKIFF_USERNS_REMAP, refusing a value that is not a user', () => {
    expect(run(parseArguments(['--userns-remap', 'default'], {})).options.usernsRemap).toBe('default');
    expect(run(parseArguments([], { SKIFF_USERNS_REMAP: 'alice:staff' })).options.usernsRemap).toBe('alice:staff');
    expect(() => parseArguments(['--userns-remap=root'], {})).toThrow(
      new UsageError('--userns-remap cannot map containers to root'),
    );
    expect(() => parseArguments([], { SKIFF_USERNS_REMAP: 'a:b:c' })).toThrow(
      /^SKIFF_USERNS_REMAP must be "default", a user, or user:group/,
    );
  });

  it('takes the bridge, its subnet, the network pool and the nftables table, refusing malformed ones', () => {
    expect(
      run(
        parseArguments(['--bridge', 'br-test', '--bridge-subnet', '10.9.0.0/24'], {
          SKIFF_NETWORK_POOL: '10.10.0.0/16',
          SKIFF_NFT_TABLE: 'skiff_t1',
        }),
      ).options.network,
    ).toEqual({ bridgeName: 'br-test', bridgeSubnet: '10.9.0.0/24', pool: '10.10.0.0/16', table: 'skiff_t1' });
    expect(run(parseArguments([], {})).options.network).toBeUndefined();
    expect(() => parseArguments(['--bridge', 'a-name-far-too-long'], {})).toThrow(/--bridge must be an interface name/);
    expect(() => parseArguments([], { SKIFF_NFT_TABLE: 'x; flush ruleset' })).toThrow(/SKIFF_NFT_TABLE must be a name/);
    expect(() => parseArguments(['--network-pool', '10.0.0.0'], {})).toThrow(/--network-pool must be an IPv4 CIDR/);
  });

  it('refuses a host name with control characters', () => {
    expect(() => parseArguments(['--server', 'https://a.test', '--name', 'web\u00071'], {})).toThrow(
      '--name contains control characters',
    );
  });
});

describe('runCli', () => {
  const capture = () => {
    const out = { stdout: '', stderr: '' };
    return {
      out,
      output: { stdout: (text: string) => (out.stdout += text), stderr: (text: string) => (out.stderr += text) },
    };
  };

  it('prints the version of the host-agent package', async () => {
    const { out, output } = capture();

    expect(await runCli(['--version'], {}, output)).toBe(ExitCode.Ok);
    expect(out.stdout).toBe(`skiff-agent ${agentVersion()}\n`);
  });

  it('prints the usage with every option and variable', async () => {
    const { out, output } = capture();

    expect(await runCli(['--help'], {}, output)).toBe(ExitCode.Ok);
    for (const word of [
      '--server',
      '--join-token',
      '--root',
      '--name',
      '--userns-remap',
      'SKIFF_SERVER',
      'SKIFF_HOST_NAME',
      'SKIFF_USERNS_REMAP',
    ]) {
      expect(out.stdout).toContain(word);
    }
  });

  it('exits 2 on bad arguments, naming the problem and pointing at --help', async () => {
    const { out, output } = capture();

    expect(await runCli(['--server', 'https://a.test', '--nope'], {}, output)).toBe(ExitCode.Usage);
    expect(out.stderr).toBe("skiff-agent: unknown option --nope\nRun 'skiff-agent --help' for the options.\n");
    expect(out.stdout).toBe('');
  });

  it('runs a standalone engine without --server', () => {
    expect(run(parseArguments(['--root', '/srv/skiff'], {})).options).toEqual({
      root: '/srv/skiff',
      socket: DEFAULT_ENGINE_SOCKET,
    });
  });
});
