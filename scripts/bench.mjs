// npm run bench [-- vitest options]: builds, then runs the benchmarks in test/bench (never part of
// `npm test`) against the built server and agent, and writes their tables to test/bench/results/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build, ensureDebianPackages, ensureDependencies, root, say } from './lib/workspace.mjs';

const HELP = `Usage: npm run bench [-- <vitest options>]

Runs the benchmarks in test/bench and writes their tables to test/bench/results/:
  plane core    proxy overhead, log streaming, exec round trip, with the built server, the built
                agent and PostgreSQL on this machine (DATABASE_URL when set, else an embedded one)
  engine speed  \`docker run --rm\` through the built agent against dockerd, podman, runc and crun
                (Debian's packages, installed when missing; each run privately, then stopped)
  registry pull \`docker pull\` of a generated 200 MB image from Debian's docker-registry on 127.0.0.1:
                the built agent against dockerd and \`skopeo copy\` to a directory
  network       \`docker run --rm\` on the default bridge against \`--network none\`, through the built agent and
                a dockerd with a bridge of its own (its iptables rules and bridge removed afterwards), and TCP
                throughput through a port published on 127.0.0.1, to the container's bridge address and over
                plain loopback
Needs root: the engines run real containers. Takes a few minutes; a quiet machine gives steadier
numbers. SKIFF_BENCH_RUNS=<n> shortens the engine and network benchmarks (below 30 they record nothing);
SKIFF_BENCH_TRANSFER_RUNS=<n> sets the network benchmark's transfers per path (default 9).
Run one benchmark with its file: npm run bench -- test/bench/engine-speed.bench.ts
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (process.getuid?.() !== 0) {
  process.stderr.write(
    'npm run bench needs root: the agent it measures runs real containers (namespaces, cgroups, mounts).\n' +
      'Run it as root, e.g. `sudo npm run bench`.\n',
  );
  process.exit(1);
}

const resultsDir = join(root, 'test/bench/results');
let status = 1;
try {
  ensureDependencies();
  // As for npm test: gcc builds the agent's helper, busybox makes the test image, docker loads it.
  // Then the engine benchmark's peers: docker.io brings dockerd, containerd and (when there is none)
  // a docker CLI. The benchmark starts its own private daemons; it never uses the host's services.
  ensureDebianPackages([
    'gcc',
    'libc6-dev',
    'busybox-static',
    'docker.io',
    'podman',
    'runc',
    'crun',
    'docker-registry',
    'skopeo',
  ]);
  build();
  const startedAt = Date.now();
  say('running the benchmarks (a few minutes)');
  const vitest = spawnSync(
    process.execPath,
    [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/bench/vitest.bench.config.ts', ...args],
    { cwd: root, stdio: 'inherit' },
  );
  status = vitest.status ?? 1;
  const written = existsSync(resultsDir)
    ? readdirSync(resultsDir).filter((name) => statSync(join(resultsDir, name)).mtimeMs >= startedAt)
    : [];
  say(
    written.length > 0
      ? `results written: ${written.map((name) => `test/bench/results/${name}`).join(', ')}`
      : 'no results were written',
  );
} catch (error) {
  process.stderr.write(`npm run bench could not run the benchmarks: ${error.message}\n`);
}
process.exit(status);
