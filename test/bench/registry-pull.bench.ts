import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { packEntries, type Entry } from '../support/busybox-image.js';
import { makeImage, removeLayout, skopeoPush, writeLayout, type TestImage } from '../support/oci-test-images.js';
import { repoRoot } from '../support/processes.js';
import { ensureRegistry, TestRegistry } from '../support/test-registry.js';
import { BenchReport, mbPerSecond, ms } from './support/bench-report.js';
import { interleaved } from './support/interleaved.js';
import { LatencySample } from './support/latency-sample.js';
import { debianVersion, ensurePeerPackages } from './support/peer-packages.js';
import { makePrivateDir, removePrivateDir } from './support/private-dir.js';
import { PrivateDockerd } from './support/private-dockerd.js';
import { StandaloneAgent } from './support/standalone-agent.js';
import { runChecked, runTimed, type TimedCommand } from './support/timed-command.js';

const RESULTS = join(repoRoot, 'test/bench/results/registry-pull.md');
// Ten: the median of five moved by up to 80 ms from one run of the benchmark to the next.
const RUNS = positiveInteger('SKIFF_BENCH_PULL_RUNS', 10);
const LAYERS = 8;
const LAYER_BYTES = 25_000_000;
const TITLE = '1. `docker pull` of an 8-layer, 200 MB image from a local registry';

const GOALS = {
  vsDockerd: 'our pull faster than dockerd’s (median)',
  vsSkopeo: 'our pull within 1.3× of `skopeo copy` to a local directory (median)',
};

const progress = (line: string) => process.stdout.write(`bench: ${line}\n`);

function positiveInteger(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${name} must be a positive integer, not '${value}'`);
  return parsed;
}

/**
 * The filesystem the engines and skopeo write to. On ext4 without a journal the kernel skips,
 * for each new file, every inode freed in the last 30 s: the `rmi` between pulls makes that count.
 */
function storageOf(path: string): string {
  const [source = '?', type = '?'] = execFileSync('findmnt', ['-no', 'SOURCE,FSTYPE', '-T', path], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);
  if (!type.startsWith('ext')) return `${type} on ${source}`;
  // A journal registers itself as /proc/fs/jbd2/<device>-<inode>.
  const journaled =
    existsSync('/proc/fs/jbd2') && readdirSync('/proc/fs/jbd2').some((name) => name.startsWith(`${basename(source)}-`));
  return `${type} on ${source}, ${journaled ? 'with' : 'without'} a journal (the agent's, dockerd's and skopeo's directories alike)`;
}

/** One layer of files of mixed sizes, half random bytes and half text: it gzips to about 60 %. */
async function generatedLayer(index: number): Promise<Buffer> {
  const words = ['layer', 'registry', 'skiff', 'pull', 'manifest', 'blob', 'digest', 'gzip', 'tar', 'engine'];
  const entries: Entry[] = [{ header: { name: `layer-${index}/`, type: 'directory', mode: 0o755 } }];
  let total = 0;
  for (let file = 0; total < LAYER_BYTES; file += 1) {
    const size = Math.min(4096 + ((file * 7919) % 400_000), LAYER_BYTES - total);
    let body: Buffer;
    if (file % 2 === 0) body = randomBytes(size);
    else {
      const text: string[] = [];
      let length = 0;
      while (length < size) {
        const word = `${words[Math.floor(Math.random() * words.length)]}${Math.floor(Math.random() * 1000)} `;
        text.push(word);
        length += word.length;
      }
      body = Buffer.from(text.join('')).subarray(0, size);
    }
    entries.push({ header: { name: `layer-${index}/file-${file}`, type: 'file', mode: 0o644 }, body });
    total += size;
  }
  return packEntries(entries);
}

/**
 * Issue 7's pull benchmark: one generated image of 8 gzip layers (200 MB of files) in Debian's
 * docker-registry on 127.0.0.1, pulled by our built agent and by dockerd with the docker CLI, and
 * copied by `skopeo copy` to a local directory (download and digest check only, no unpacking),
 * the three taking turns. Each engine removes the image between its runs, so every pull fetches
 * and unpacks everything.
 */
describe('registry pull', () => {
  const report = new BenchReport(
    'Registry pull benchmark',
    'test/bench/registry-pull.bench.ts',
    'one machine: the registry (Debian’s docker-registry, filesystem storage, plain HTTP on 127.0.0.1), our built agent ' +
      '(standalone), dockerd with its containerd, and skopeo, all on it; one pull at a time.',
  );
  let dockerCli = 'docker';
  let registry: TestRegistry | undefined;
  let agent: StandaloneAgent | undefined;
  let dockerd: PrivateDockerd | undefined;
  let layout: string | undefined;
  let scratch: string | undefined;
  let image: TestImage | undefined;
  let name = '';

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('the pull benchmark needs root: the engines unpack layers as root');
    ensurePeerPackages();
    ensureRegistry();
    dockerCli = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
    registry = await TestRegistry.start();
    progress('generating the image');
    const layers = [];
    for (let index = 0; index < LAYERS; index += 1)
      layers.push({ tar: await generatedLayer(index), compression: 'gzip' as const });
    image = makeImage({ layers });
    layout = await writeLayout(image.blobs, image.manifest, 'bench');
    name = `${registry.host}/bench/layers:1`;
    await skopeoPush(layout, 'bench', name);
    await removeLayout(layout);
    layout = undefined;
    agent = await StandaloneAgent.start(dockerCli);
    dockerd = await PrivateDockerd.start(dockerCli);
    scratch = await makePrivateDir('skiff-bench-skopeo-');
    const compressed = image.layers.reduce((sum, layer) => sum + layer.bytes.length, 0);
    report.addFact(
      'Image',
      `${LAYERS} layers of ${(LAYER_BYTES / 1e6).toFixed(0)} MB of files each (${((LAYERS * LAYER_BYTES) / 1e6).toFixed(0)} MB; ` +
        `half random bytes, half text, in files of 4–400 kB), gzip: ${(compressed / 1e6).toFixed(1)} MB to download; OCI manifest`,
    );
    report.addFact(
      'Compared',
      `docker.io ${debianVersion('docker.io') ?? '?'} (dockerd, 3 downloads at a time, its default), ` +
        `skopeo ${debianVersion('skopeo') ?? '?'}, docker-registry ${debianVersion('docker-registry') ?? '?'} (Debian packages)`,
    );
    report.addFact('Docker CLI', execFileSync(dockerCli, ['--version'], { encoding: 'utf8' }).trim());
    report.addFact('Runs', `${RUNS} per contender after one warm-up each, taking turns`);
    report.addFact('Storage', storageOf(tmpdir()));
  }, 600_000);

  afterAll(async () => {
    await agent?.close().catch(() => undefined);
    await dockerd?.close().catch(() => undefined);
    await registry?.close().catch(() => undefined);
    if (layout) await removeLayout(layout);
    if (scratch) await removePrivateDir(scratch);
    if (report.covers([TITLE])) {
      await report.write(RESULTS);
      process.stdout.write(`\n${report.render()}\nwritten to ${RESULTS}\n`);
    }
  }, 300_000);

  it('pulls with our agent, dockerd and skopeo', async () => {
    interface Contender {
      label: string;
      pull: () => TimedCommand;
      reset: () => Promise<void>;
      sample: LatencySample;
    }
    const dockerPull = (engine: StandaloneAgent | PrivateDockerd): Contender => ({
      label: engine === agent ? 'Skiff agent (`docker pull`)' : 'dockerd (`docker pull`)',
      pull: () => ({ argv: [dockerCli, 'pull', '--quiet', name], env: engine.dockerEnv() }),
      reset: async () => {
        await runChecked([dockerCli, 'rmi', name], { env: engine.dockerEnv() });
      },
      sample: new LatencySample(),
    });
    let copy = 0;
    const skopeo: Contender = {
      label: '`skopeo copy` to a directory',
      pull: () => ({
        argv: [
          'skopeo',
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          `docker://${name}`,
          `dir:${join(scratch!, `copy-${++copy}`)}`,
        ],
      }),
      reset: async () => {
        await rm(join(scratch!, `copy-${copy}`), { recursive: true, force: true });
      },
      sample: new LatencySample(),
    };
    const contenders = [dockerPull(agent!), dockerPull(dockerd!), skopeo];
    try {
      for (const contender of contenders) {
        const warm = await runTimed(contender.pull(), 600_000);
        if (warm.status !== 0) throw new Error(`${contender.label} failed: ${warm.stderr}`);
        await contender.reset();
      }
      for (const contender of interleaved(contenders, RUNS)) {
        const outcome = await runTimed(contender.pull(), 600_000);
        if (outcome.status !== 0) throw new Error(`${contender.label} failed: ${outcome.stderr}`);
        contender.sample.add(outcome.ms);
        await contender.reset();
      }
    } catch (error) {
      report.addFailure(TITLE, error);
      process.stderr.write(`our agent's log:\n${agent?.logTail() ?? ''}\n`);
      throw error;
    }
    const compressed = image!.layers.reduce((sum, layer) => sum + layer.bytes.length, 0);
    const [ours, docker, copyTool] = contenders.map((contender) => contender.sample);
    report.addSection({
      title: TITLE,
      method:
        'Time from starting the client to its exit; the engines remove the image (layers and blobs) after each pull, skopeo’s ' +
        'directory is deleted. The registry’s files are in the page cache after the warm-up, for all three alike.',
      headers: ['contender', 'runs', 'median', 'min', 'max', 'download rate (median)'],
      rows: contenders.map((contender) => [
        contender.label,
        String(contender.sample.count),
        ms(contender.sample.percentile(50)),
        ms(contender.sample.min),
        ms(contender.sample.max),
        mbPerSecond(compressed, contender.sample.percentile(50)),
      ]),
      notes: [
        'skopeo only downloads and checks digests; the engines also gunzip, unpack and record every layer (ours while it downloads, ' +
          'dockerd after each download).',
      ],
    });
    const ratioDockerd = docker.percentile(50) / ours.percentile(50);
    const ratioSkopeo = ours.percentile(50) / copyTool.percentile(50);
    report.addGoal({
      goal: GOALS.vsDockerd,
      measured: `${ratioDockerd.toFixed(2)}× faster (ours ${ms(ours.percentile(50))}, dockerd ${ms(docker.percentile(50))})`,
      met: ratioDockerd > 1,
    });
    report.addGoal({
      goal: GOALS.vsSkopeo,
      measured: `${ratioSkopeo.toFixed(2)}× skopeo’s time (skopeo ${ms(copyTool.percentile(50))})`,
      met: ratioSkopeo <= 1.3,
    });
  }, 1_800_000);
});
