import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type BusyboxImage, buildBusyboxImage } from '../support/busybox-image.js';
import { repoRoot } from '../support/processes.js';
import { BenchReport, mbPerSecond, ms } from './support/bench-report.js';
import { BridgedDockerd } from './support/bridged-dockerd.js';
import { agentNetworkOf, describeBuiltAgent } from './support/built-agent.js';
import type { DockerApiEngine } from './support/contender.js';
import { HostLeftovers } from './support/host-leftovers.js';
import { interleaved } from './support/interleaved.js';
import { LatencySample } from './support/latency-sample.js';
import { debianVersion, ensurePeerPackages } from './support/peer-packages.js';
import { engineProcesses } from './support/process-memory.js';
import { StandaloneAgent } from './support/standalone-agent.js';
import { busyboxSinkCommand, LoopbackSink, sendToSink, waitForSink } from './support/tcp-transfer.js';
import { type CommandOutcome, runChecked, runTimed } from './support/timed-command.js';

const RESULTS = join(repoRoot, 'test/bench/results/network.md');

/** As the engine benchmark: at least 30 runs each, or the recorded results stay as they were. */
const MIN_RECORDED_RUNS = 30;
const RUNS = positiveInteger('SKIFF_BENCH_RUNS', 50);
const WARM_UP_ROUNDS = positiveInteger('SKIFF_BENCH_WARMUP', 5);
const TRANSFER_RUNS = positiveInteger('SKIFF_BENCH_TRANSFER_RUNS', 9);
const TRANSFER_BYTES = 256 * 2 ** 20;
const SINK_PORT = 8080;

const TITLES = {
  start: '1. `docker run --rm busybox true`: the bridge network against `--network none`',
  throughput: '2. TCP throughput: a published port, the container’s bridge address and plain loopback',
};

const progress = (line: string) => process.stdout.write(`bench: ${line}\n`);

function positiveInteger(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${name} must be a positive integer, not '${value}'`);
  return parsed;
}

/** Failed runs told once per message (ids masked): the count and the message. */
function describeFailures(outcomes: readonly CommandOutcome[]): string[] {
  const kinds = new Map<string, number>();
  for (const outcome of outcomes) {
    const message = (outcome.stderr || `exit ${outcome.status}, no message`)
      .replaceAll('\n', ' ⏎ ')
      .replace(/[0-9a-f]{12,64}/g, '<id>');
    kinds.set(message, (kinds.get(message) ?? 0) + 1);
  }
  return [...kinds].map(([message, count]) => `${count} × \`${message}\``);
}

/**
 * Issue 8's network benchmark: what the default bridge network adds to `docker run --rm` over
 * `--network none`, through our built agent and through dockerd with its bridge, and how fast TCP
 * goes through a port published on 127.0.0.1 (our agent's userland proxy, dockerd's docker-proxy)
 * and straight to the container's bridge address, against plain loopback. Each engine has a
 * bridge, subnet and firewall state of its own, all removed at the end; traffic goes only to
 * 127.0.0.1 and to containers on those bridges. The tables go to test/bench/results/network.md.
 */
describe('network', () => {
  const report = new BenchReport(
    'Network benchmark',
    'test/bench/network.bench.ts',
    'one machine: the benchmark (one Node.js process spawning every client command and sending every byte), our ' +
      'built agent (standalone, no server) and dockerd with its containerd, each with its own default bridge, both ' +
      'running while either is measured.',
  );
  let dockerCli = 'docker';
  let image: BusyboxImage | undefined;
  let leftovers: HostLeftovers | undefined;
  let agent: StandaloneAgent | undefined;
  let dockerd: BridgedDockerd | undefined;
  let ourNetwork: { bridgeName: string; bridgeSubnet: string; table: string } | undefined;
  const engineLabel = (engine: DockerApiEngine) => (engine === agent ? 'Skiff agent' : 'dockerd');

  const docker = (engine: DockerApiEngine, ...args: string[]) =>
    runChecked([dockerCli, ...args], { env: engine.dockerEnv() }).then((output) => output.trim());

  async function section(title: string, measure: () => Promise<void>): Promise<void> {
    try {
      await measure();
    } catch (error) {
      report.addFailure(title, error);
      process.stderr.write(
        `our agent's log:\n${agent?.logTail() ?? ''}\ndockerd's log:\n${dockerd?.logTail() ?? ''}\n`,
      );
      throw error;
    }
  }

  /** The address eth0 has in a fresh container on the default network: the proof that it is bridged. */
  async function bridgedAddress(engine: DockerApiEngine, subnet: string): Promise<string> {
    const shown = await docker(engine, 'run', '--rm', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0');
    const address = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(shown)?.[1];
    const prefix = subnet.replace(/0\/24$/, '');
    if (!address?.startsWith(prefix)) {
      throw new Error(`${engineLabel(engine)}'s container is not on its bridge (${subnet}): eth0 shows '${shown}'`);
    }
    return address;
  }

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('the network benchmark needs root: it makes bridges and containers');
    ensurePeerPackages();
    leftovers = HostLeftovers.before('skiff-bench-network-');
    dockerCli = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
    image = await buildBusyboxImage({ format: 'docker-save', tag: 'busybox:latest' });

    agent = await StandaloneAgent.start(dockerCli);
    ourNetwork = agentNetworkOf(agent.processes());
    dockerd = await BridgedDockerd.start(dockerCli, [ourNetwork.bridgeSubnet]);
    for (const engine of [agent, dockerd]) {
      await runChecked([dockerCli, 'load', '--input', image.archivePath], { env: engine.dockerEnv() });
    }
    const ours = await bridgedAddress(agent, ourNetwork.bridgeSubnet);
    const theirs = await bridgedAddress(dockerd, dockerd.bridgeSubnet);
    progress(`engines started, busybox loaded; a container of ours got ${ours}, one of dockerd's ${theirs}`);

    report.addFact(
      'Compared',
      `docker.io ${debianVersion('docker.io') ?? '?'}, containerd ${debianVersion('containerd') ?? '?'} (Debian packages), ` +
        `iptables ${debianVersion('iptables') ?? '?'} (${execFileSync('iptables', ['--version'], { encoding: 'utf8' }).trim()})`,
    );
    report.addFact(
      'Docker CLI (for both)',
      `${execFileSync(dockerCli, ['--version'], { encoding: 'utf8' }).trim()} at ${dockerCli}`,
    );
    report.addFact('Our agent', describeBuiltAgent());
    report.addFact(
      'Networks',
      `ours: bridge ${ourNetwork.bridgeName}, ${ourNetwork.bridgeSubnet}, rules in its nftables table ip ` +
        `${ourNetwork.table}, published ports served on 127.0.0.1 by its userland proxy; dockerd: bridge ` +
        `${dockerd.bridgeName}, ${dockerd.bridgeSubnet} (made by the benchmark with its address, named with \`--bridge\`), \`--iptables\` ` +
        '(its default), ' +
        '`--ip-forward=false`, docker-proxy for published ports (`--userland-proxy`, its default); the host’s ' +
        `sysctls at the start: ${hostSysctls().join(', ')}`,
    );
    report.addFact(
      'Image',
      `busybox from Debian’s busybox-static ${debianVersion('busybox-static') ?? ''}, one layer, loaded with docker load`,
    );
    report.addFact(
      'Runs',
      `${RUNS} per start contender after ${WARM_UP_ROUNDS} warm-up rounds; ${TRANSFER_RUNS} transfers of ` +
        `${TRANSFER_BYTES / 2 ** 20} MiB per path after one warm-up each`,
    );
    report.addFact('Goals', 'issue 8 sets none for this benchmark: the tables state measurements only');
  }, 300_000);

  afterAll(async () => {
    const problems: string[] = [];
    const attempt = async (what: string, work: () => unknown) => {
      try {
        await work();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    };
    const directories = [agent?.directory, dockerd?.directory].filter((path): path is string => path !== undefined);
    await attempt('stopping our agent', () => agent?.close());
    await attempt('stopping dockerd and containerd, removing their bridge and iptables rules', async () => {
      await dockerd?.close();
      if (dockerd && dockerd.removed.length > 0) progress(`removed what dockerd left: ${dockerd.removed.join('; ')}`);
    });
    await attempt('removing the busybox archive', () => image?.cleanup());
    await attempt('removing what dockerd left on the host', () => {
      const removed = leftovers?.remove() ?? [];
      if (removed.length > 0) progress(`removed what dockerd left on the host: ${removed.join(', ')}`);
    });
    await attempt('checking that nothing is left', async () => {
      const left = await whatIsLeft(
        [ourNetwork?.bridgeName, dockerd?.bridgeName].filter((name): name is string => name !== undefined),
        ourNetwork?.table,
        [ourNetwork?.bridgeSubnet, dockerd?.bridgeSubnet].filter((subnet): subnet is string => subnet !== undefined),
        directories,
      );
      if (left.length > 0) throw new Error(left.join('; '));
    });

    const complete = report.covers(Object.values(TITLES));
    if (complete && RUNS >= MIN_RECORDED_RUNS) {
      await report.write(RESULTS);
      process.stdout.write(`\n${report.render()}\nwritten to ${RESULTS}\n`);
    } else {
      process.stdout.write(
        `\n${report.render()}\n${complete ? `fewer than ${MIN_RECORDED_RUNS} runs` : 'not every measure ran'}: ` +
          `${RESULTS} is left as it was\n`,
      );
    }
    if (problems.length > 0) throw new Error(`clean-up failed:\n${problems.join('\n')}`);
  }, 300_000);

  it('starts containers on the bridge and with no network', async () => {
    await section(TITLES.start, async () => {
      type Network = 'bridge' | 'none';
      interface StartContender {
        engine: DockerApiEngine;
        network: Network;
        sample: LatencySample;
        failures: CommandOutcome[];
      }
      const contenders: StartContender[] = [agent!, dockerd!].flatMap((engine) =>
        (['bridge', 'none'] as const).map((network) => ({
          engine,
          network,
          sample: new LatencySample(),
          failures: [],
        })),
      );
      const command = (contender: StartContender) => ({
        argv: [
          dockerCli,
          'run',
          '--rm',
          ...(contender.network === 'none' ? ['--network', 'none'] : []),
          'busybox',
          'true',
        ],
        env: contender.engine.dockerEnv(),
      });
      const label = (contender: StartContender) =>
        `${engineLabel(contender.engine)}, ${contender.network === 'bridge' ? 'default bridge' : '`--network none`'}`;
      for (const contender of interleaved(contenders, WARM_UP_ROUNDS)) {
        const outcome = await runTimed(command(contender));
        if (outcome.status !== 0) throw new Error(`warm-up of ${label(contender)} failed: ${outcome.stderr}`);
      }
      for (const contender of interleaved(contenders, RUNS)) {
        const outcome = await runTimed(command(contender));
        if (outcome.status === 0) contender.sample.add(outcome.ms);
        else contender.failures.push(outcome);
      }
      const find = (engine: DockerApiEngine, network: Network) =>
        contenders.find((contender) => contender.engine === engine && contender.network === network)!.sample;
      const bridgeCost = (engine: DockerApiEngine) => find(engine, 'bridge').p50 - find(engine, 'none').p50;
      const ratio = (network: Network) => find(dockerd!, network).p50 / find(agent!, network).p50;
      report.addSection({
        title: TITLES.start,
        method:
          'The whole client command, timed from its spawn to its exit: `docker run --rm busybox true` (the default ' +
          '`bridge` network: a veth pair, an address, the bridge’s rules) and `docker run --rm --network none busybox ' +
          'true` (loopback only), with DOCKER_HOST at our agent’s socket and at dockerd’s. One command at a time, the ' +
          `four interleaved round by round after ${WARM_UP_ROUNDS} warm-up rounds.`,
        headers: ['engine, network', 'runs', 'median', 'p90', 'min', 'max', 'failed', 'bridge − none (medians)'],
        rows: contenders.map((contender) => [
          label(contender),
          String(contender.sample.count),
          ms(contender.sample.p50),
          ms(contender.sample.percentile(90)),
          ms(contender.sample.min),
          ms(contender.sample.max),
          String(contender.failures.length),
          contender.network === 'bridge' ? ms(bridgeCost(contender.engine)) : '—',
        ]),
        notes: [
          `dockerd’s median ÷ ours: ${ratio('bridge').toFixed(1)}× on the bridge, ${ratio('none').toFixed(1)}× with ` +
            '`--network none`.',
          'Neither engine touches its firewall for a container that publishes no port (ours reloads its nftables ' +
            'table, dockerd adds DNAT rules, only for published ports): the bridge rows pay for the veth pair, the ' +
            'address and the routes.',
          ...contenders.flatMap((contender) =>
            describeFailures(contender.failures).map((failure) => `${label(contender)} failed: ${failure}`),
          ),
        ],
      });
      progress(
        `start, median: ${contenders.map((contender) => `${label(contender)} ${ms(contender.sample.p50)}`).join(', ')}`,
      );
    });
  }, 900_000);

  it('moves bytes through a published port, to the bridge address and over loopback', async () => {
    await section(TITLES.throughput, async () => {
      interface Path {
        label: string;
        host: string;
        port: number;
        sample: LatencySample;
      }
      const sinks = new Map<DockerApiEngine, string>();
      const loopbacks: LoopbackSink[] = [];
      try {
        const paths: Path[] = [];
        for (const kind of ['busybox', 'node'] as const) {
          const sink = await LoopbackSink.start(kind);
          loopbacks.push(sink);
          paths.push({
            label:
              kind === 'busybox'
                ? 'plain loopback: 127.0.0.1, the containers’ busybox sink on the host (baseline)'
                : 'plain loopback: 127.0.0.1, a Node.js sink on the host',
            host: '127.0.0.1',
            port: sink.port,
            sample: new LatencySample(),
          });
        }
        for (const engine of [agent!, dockerd!]) {
          const id = await docker(
            engine,
            'run',
            '-d',
            '-p',
            `127.0.0.1::${SINK_PORT}`,
            'busybox',
            ...busyboxSinkCommand(SINK_PORT),
          );
          sinks.set(engine, id);
          const published = (await docker(engine, 'port', id, `${SINK_PORT}/tcp`))
            .split('\n')
            .find((line) => line.startsWith('127.0.0.1:'));
          if (!published) throw new Error(`${engineLabel(engine)} did not publish ${SINK_PORT}/tcp on 127.0.0.1`);
          const address = await docker(engine, 'inspect', '--format', '{{.NetworkSettings.IPAddress}}', id);
          if (!/^\d+\.\d+\.\d+\.\d+$/.test(address))
            throw new Error(`${engineLabel(engine)}'s sink has no bridge address: '${address}'`);
          const proxy = engine === agent ? 'the agent’s userland proxy' : 'docker-proxy';
          paths.push(
            {
              label: `${engineLabel(engine)}: a published port on 127.0.0.1 (${proxy})`,
              host: '127.0.0.1',
              port: Number(published.split(':')[1]),
              sample: new LatencySample(),
            },
            {
              label: `${engineLabel(engine)}: the container’s address on its bridge`,
              host: address,
              port: SINK_PORT,
              sample: new LatencySample(),
            },
          );
        }
        for (const path of paths) {
          await waitForSink(path.host, path.port);
          await sendToSink(path.host, path.port, TRANSFER_BYTES);
        }
        for (const path of interleaved(paths, TRANSFER_RUNS)) {
          path.sample.add(await sendToSink(path.host, path.port, TRANSFER_BYTES));
        }
        const baseline = paths[0].sample.p50;
        report.addSection({
          title: TITLES.throughput,
          method:
            `The benchmark sends ${TRANSFER_BYTES / 2 ** 20} MiB in 1 MiB writes over one TCP connection, half-closes ` +
            'it and waits for the sink to close its side (so the bytes the sink has not read yet count), timed from the ' +
            'connect. The containers’ sink is busybox, `nc -ll -p 8080 -e dd of=/dev/null bs=1M`, published with ' +
            '`-p 127.0.0.1::8080`; the loopback baseline runs the same sink on the host, bound to 127.0.0.1, and a ' +
            `Node.js sink (a process of its own) shows what Node.js alone reads. ${TRANSFER_RUNS} ` +
            'transfers per path, the paths taking turns, after one warm-up each. MB = 10⁶ bytes.',
          headers: ['path', 'transfers', 'median', 'slowest', 'fastest', 'median time', 'median ÷ loopback'],
          rows: paths.map((path) => [
            path.label,
            String(path.sample.count),
            mbPerSecond(TRANSFER_BYTES, path.sample.p50),
            mbPerSecond(TRANSFER_BYTES, path.sample.max),
            mbPerSecond(TRANSFER_BYTES, path.sample.min),
            ms(path.sample.p50),
            path === paths[0] ? '—' : `${((baseline / path.sample.p50) * 100).toFixed(0)} %`,
          ]),
          notes: [
            'From the host, 127.0.0.1 reaches a published port through a userland proxy with both engines: ours ' +
              'relays in the agent’s Node.js process, dockerd’s docker-proxy (Go) is a process per published port. ' +
              'Both engines’ DNAT rules serve only other hosts here (dockerd’s skips 127.0.0.0/8 while its userland ' +
              'proxy is on).',
            'The bridge address path crosses the bridge and the veth pair with no proxy.',
            'The benchmark’s Node.js process, the sink and (for published ports) the proxy share the machine’s ' +
              `${cpus().length} cores.`,
          ],
        });
        progress(
          `throughput, median: ${paths.map((path) => `${path.label} ${mbPerSecond(TRANSFER_BYTES, path.sample.p50)}`).join('; ')}`,
        );
      } finally {
        for (const sink of loopbacks) await sink.close();
        for (const [engine, id] of sinks) await docker(engine, 'rm', '-f', id).catch(() => undefined);
      }
    });
  }, 900_000);
});

function hostSysctls(): string[] {
  const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').trim() : 'absent');
  return [
    `net.ipv4.ip_forward ${read('/proc/sys/net/ipv4/ip_forward')}`,
    `net.bridge.bridge-nf-call-iptables ${read('/proc/sys/net/bridge/bridge-nf-call-iptables')}`,
  ];
}

/** What the benchmark may have left on the host: the bridges, our nftables table, dockerd's rules, processes. */
async function whatIsLeft(
  bridges: readonly string[],
  table: string | undefined,
  subnets: readonly string[],
  directories: readonly string[],
): Promise<string[]> {
  const left: string[] = [];
  const links = await runChecked(['ip', '-o', 'link', 'show']);
  for (const bridge of bridges) if (links.includes(`: ${bridge}:`)) left.push(`bridge ${bridge}`);
  if (table && (await runChecked(['nft', 'list', 'tables']).catch(() => '')).includes(`table ip ${table}\n`))
    left.push(`nftables table ip ${table}`);
  for (const iptable of ['nat', 'filter']) {
    const rules = (await runChecked(['iptables', '-w', '-t', iptable, '-S']).catch(() => '')).split('\n');
    for (const rule of rules) {
      const words = rule.split(' ');
      if (
        words.some((word) => word.startsWith('DOCKER')) ||
        bridges.some((bridge) => words.includes(bridge)) ||
        subnets.some((subnet) => words.includes(subnet))
      )
        left.push(`iptables -t ${iptable}: ${rule}`);
    }
  }
  for (const directory of directories) {
    const pids = engineProcesses([], directory);
    if (pids.length > 0) left.push(`processes on ${directory}: ${pids.join(', ')}`);
  }
  return left;
}
