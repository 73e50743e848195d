import type { TimedCommand } from './timed-command.js';

/** One of the things compared: what starts a busybox container running `true`, and how it is typed. */
export interface Contender {
  /** The row label in the tables. */
  label: string;
  /** The whole client command of one run; `serial` gives a fresh container id where the tool needs one. */
  runOnce(serial: number): TimedCommand;
}

/** An engine that serves the Docker Engine API (ours, dockerd), driven with the same docker CLI. */
export interface DockerApiEngine extends Contender {
  socketPath: string;
  /** The engine's private directory: every process it runs names it on its command line. */
  directory: string;
  /** The environment that points the docker CLI at this engine. */
  dockerEnv(): NodeJS.ProcessEnv;
  /** The engine's processes now: the daemons and whatever they keep running. */
  processes(): number[];
  close(): Promise<void>;
}

/**
 * `docker run --rm --network none busybox true` against an engine's socket: loopback only, as the
 * other contenders run (dockerd has `--bridge=none`; our default is a bridge since issue 8).
 */
export function dockerRunCommand(dockerCli: string, socketPath: string): TimedCommand {
  return {
    argv: [dockerCli, 'run', '--rm', '--network', 'none', 'busybox', 'true'],
    env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` },
  };
}
