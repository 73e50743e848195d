import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Contender } from './contender.js';
import { makePrivateDir, removePrivateDir } from './private-dir.js';
import type { TimedCommand } from './timed-command.js';
import { runChecked } from './timed-command.js';

/** podman 4.3 itself runs with RLIMIT_NPROC 32768 (seen in /proc/<pid>/limits), so no container may ask for more. */
const PODMAN_NPROC = 32_768;

/**
 * Debian's podman, daemonless, on a private --root and --runroot, with a containers.conf of its
 * own (CONTAINERS_CONF) for the rest: cgroupfs, events to a file, a private tmp and network config
 * directory. Runs use `--network none` (loopback only, as the other engines here).
 *
 * Its defaults do not run here and are changed: podman asks for RLIMIT_NOFILE 1048576 and
 * RLIMIT_NPROC 4194304 for a root container, which a root without CAP_SYS_RESOURCE (this machine)
 * cannot raise to, so the containers get this process's open-files limit and 32768 processes;
 * and its default runtime crun refuses this hybrid cgroup host unless `prefix` (a mount namespace
 * without the cgroup2 mount) is given.
 */
export class PrivatePodman implements Contender {
  readonly label: string;

  private constructor(
    readonly directory: string,
    private readonly prefix: readonly string[],
  ) {
    this.label = `podman (\`podman run --rm --network none\`${prefix.length > 0 ? ', through nsenter' : ''})`;
  }

  static async create(prefix: readonly string[]): Promise<PrivatePodman> {
    const directory = await makePrivateDir('skiff-bench-podman-');
    const nofile = hardLimit('Max open files') ?? 1_048_576;
    const nproc = Math.min(hardLimit('Max processes') ?? PODMAN_NPROC, PODMAN_NPROC);
    await writeFile(
      join(directory, 'containers.conf'),
      [
        '[containers]',
        `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
        '[network]',
        `network_config_dir = "${directory}/networks"`,
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = "${directory}/events.log"`,
        `tmp_dir = "${directory}/tmp"`,
        '',
      ].join('\n'),
    );
    return new PrivatePodman(directory, prefix);
  }

  /** A podman command line on the private store. */
  command(...args: string[]): TimedCommand {
    return {
      argv: [
        ...this.prefix,
        'podman',
        '--root',
        join(this.directory, 'root'),
        '--runroot',
        join(this.directory, 'run'),
        ...args,
      ],
      env: { ...process.env, CONTAINERS_CONF: join(this.directory, 'containers.conf') },
    };
  }

  runOnce(): TimedCommand {
    return this.command('run', '--rm', '--network', 'none', 'busybox', 'true');
  }

  /** Loads a `docker save` archive (its path must be absolute: nsenter does not keep the working directory). */
  async load(archivePath: string): Promise<void> {
    const { argv, env } = this.command('load', '--quiet', '--input', archivePath);
    await runChecked(argv, { env });
  }

  async version(): Promise<string> {
    const { argv, env } = this.command('version', '--format', '{{.Client.Version}}');
    return (await runChecked(argv, { env })).trim();
  }

  /** The name of the OCI runtime podman uses (its default: crun on Debian). */
  async runtime(): Promise<string> {
    const { argv, env } = this.command('info', '--format', '{{.Host.OCIRuntime.Name}}');
    return (await runChecked(argv, { env })).trim();
  }

  async close(): Promise<void> {
    const { argv, env } = this.command('rm', '--all', '--force');
    await runChecked(argv, { env }).catch(() => undefined);
    await removePrivateDir(this.directory);
  }
}

/** This process's hard limit from /proc/self/limits (the containers inherit ours from dockerd and the agent). */
function hardLimit(name: string): number | undefined {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((candidate) => candidate.startsWith(name));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? undefined : Number(hard);
}
