// npm test [-- vitest options]: installs what the tests need, builds, runs every tier (unit, integration,
// e2e) and ends with the line "N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build, ensureDebianPackages, ensureDependencies, root, say } from './lib/workspace.mjs';

const HELP = `Usage: npm test [-- <vitest options>]

Runs every tier: unit (no root), integration (real PostgreSQL; the engine's need root) and e2e
(server + agent + PostgreSQL + headless Chromium). One tier alone: npm test -- --project unit
(or integration, e2e). Uses DATABASE_URL when set, else an embedded PostgreSQL.
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}

const resultsDir = join(root, 'test/.results');
const resultsFile = join(resultsDir, 'vitest.json');
let status = 1;
try {
  ensureDependencies();
  // The engine's tests drive the real docker CLI; Debian's docker.io brings it where it is missing.
  ensureDebianPackages([
    'gcc',
    'libc6-dev',
    'chromium',
    'busybox-static',
    // The arm64 agent bundle: skiff-shim cross-compiled, its Node.js and koffi run under qemu-aarch64.
    'gcc-aarch64-linux-gnu',
    'libc6-dev-arm64-cross',
    'libstdc++6-arm64-cross',
    'qemu-user',
    // The registry tests: a real registry, an independent client, zstd layers.
    'docker-registry',
    'skopeo',
    'zstd',
    // The network tests: docker-compose against the engine's socket, nftables and iproute2 for the bridges.
    'docker-compose',
    'nftables',
    'iproute2',
    // The fleet provisioning tests: real OpenSSH servers as fleet hosts in network namespaces, and sudo there.
    'openssh-server',
    'sudo',
    ...(hasCommand('docker') ? [] : ['docker.io']),
  ]);
  build();
  mkdirSync(resultsDir, { recursive: true });
  rmSync(resultsFile, { force: true });
  say('running the tests');
  const vitest = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${resultsFile}`,
      ...args,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  status = vitest.status ?? 1;
} catch (error) {
  process.stderr.write(`npm test could not run the tests: ${error.message}\n`);
}

const counts = readCounts();
if (status !== 0 && counts.failed === 0) counts.failed = 1; // vitest itself failed (a crashed setup, a syntax error)
process.stdout.write(
  `${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''}\n`,
);
process.exit(status === 0 && counts.failed === 0 ? 0 : 1);

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function readCounts() {
  if (!existsSync(resultsFile)) return { passed: 0, failed: 0, skipped: 0 };
  const report = JSON.parse(readFileSync(resultsFile, 'utf8'));
  return {
    passed: report.numPassedTests ?? 0,
    // A file that failed with no failed test in it (it did not load, a hook threw) counts once.
    failed:
      (report.numFailedTests ?? 0) +
      (report.testResults ?? []).filter(
        (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((test) => test.status === 'failed'),
      ).length,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  };
}
