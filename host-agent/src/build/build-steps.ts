/**
 * The pure parts of evaluating a Dockerfile: splitting it into stages, the variables a step sees,
 * what a metadata instruction does to the image's defaults, and the history line each step
 * records (which is also its cache key), all as Docker's classic builder has them.
 */
import { posix } from 'node:path';

import { invalidArgument } from '../engine-error.js';
import type { ContainerDefaults, HealthConfig } from '../images/image-config.js';
import type { Command, CommandForm, HealthcheckOptions } from './dockerfile-instructions.js';
import { expandWord, type VariableLookup } from './shell-lexer.js';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Build args every build may set without an ARG, as Docker allows (and leaves out of the history). */
export const PREDEFINED_ARGS = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
];

export interface Stage {
  /** Position among the stages, from 0. */
  index: number;
  /** `AS name`, lower case. */
  name?: string;
  from: Command & { kind: 'FROM' };
  commands: Command[];
}

export interface DockerfilePlan {
  /** ARG instructions before the first FROM. */
  metaArgs: (Command & { kind: 'ARG' })[];
  stages: Stage[];
}

export function planStages(commands: readonly Command[]): DockerfilePlan {
  const metaArgs: (Command & { kind: 'ARG' })[] = [];
  const stages: Stage[] = [];
  for (const command of commands) {
    if (command.kind === 'FROM') {
      if (command.stageName !== undefined && stages.some((stage) => stage.name === command.stageName)) {
        throw invalidArgument(`duplicate name of build stage: ${command.stageName} (line ${command.line})`);
      }
      stages.push({
        index: stages.length,
        ...(command.stageName === undefined ? {} : { name: command.stageName }),
        from: command,
        commands: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) {
      if (command.kind !== 'ARG') {
        throw invalidArgument(
          `dockerfile parse error on line ${command.line}: ${command.kind} before the first FROM: only ARG may come before it`,
        );
      }
      metaArgs.push(command);
      continue;
    }
    stage.commands.push(command);
  }
  if (stages.length === 0) throw invalidArgument('the Dockerfile has no FROM instruction: a build starts with FROM');
  return { metaArgs, stages };
}

/** The stages to build: all of them, or up to and including `--target`. */
export function stagesUpTo(plan: DockerfilePlan, target: string | undefined): Stage[] {
  if (target === undefined || target === '') return plan.stages;
  const index = plan.stages.findIndex((stage) => stage.name === target.toLowerCase());
  if (index < 0) throw invalidArgument(`failed to reach build target ${target} in Dockerfile: no stage has that name`);
  return plan.stages.slice(0, index + 1);
}

/** The variables of a step: the image's ENV first, then the ARGs in effect. */
export function variables(env: readonly string[], args: ReadonlyMap<string, string | undefined>): VariableLookup {
  return (name) => {
    for (let i = env.length - 1; i >= 0; i--) {
      const entry = env[i];
      if (entry.startsWith(`${name}=`)) return entry.slice(name.length + 1);
    }
    return args.get(name);
  };
}

/** Sets `NAME=value` in an environment list, in place of an earlier value. */
export function setEnv(env: readonly string[], name: string, value: string): string[] {
  const entry = `${name}=${value}`;
  const index = env.findIndex((item) => item === name || item.startsWith(`${name}=`));
  if (index < 0) return [...env, entry];
  const next = [...env];
  next[index] = entry;
  return next;
}

export function argv(form: CommandForm, shell: readonly string[]): string[] {
  return 'exec' in form ? [...form.exec] : [...shell, form.shell];
}

/** Docker's history line for a step that changed only metadata. */
export function nopCreatedBy(shell: readonly string[], text: string): string {
  return `${shell.join(' ')} #(nop)  ${text}`;
}

/** A WORKDIR, absolute, against the one before. */
export function workingDirectory(current: string | undefined, value: string): string {
  const next = posix.isAbsolute(value) ? value : posix.join(current || '/', value);
  return posix.normalize(next);
}

export interface MetadataChange {
  defaults: ContainerDefaults;
  /** The text after `#(nop)` in the history. */
  text: string;
}

/**
 * What ENV, LABEL, EXPOSE, VOLUME, USER, STOPSIGNAL, CMD, ENTRYPOINT, SHELL, HEALTHCHECK,
 * MAINTAINER and ONBUILD do to the defaults, with variables expanded where Docker expands them.
 * `cmdSet` tells whether a CMD came before in this stage (ENTRYPOINT then keeps it).
 */
export function applyMetadata(
  command: Command,
  defaults: ContainerDefaults,
  lookup: VariableLookup,
  escape: string,
  cmdSet: boolean,
): MetadataChange {
  const expand = (word: string) => expandWord(word, lookup, escape);
  const shell = defaults.Shell ?? DEFAULT_SHELL;
  switch (command.kind) {
    case 'ENV': {
      let env = defaults.Env ?? [];
      const parts: string[] = [];
      for (const pair of command.pairs) {
        const key = expand(pair.key);
        if (key === '') throw invalidArgument(`ENV names must not be empty (line ${command.line})`);
        // Every pair sees the variables from before the instruction: `ENV a=x b=$a` takes the old a.
        const value = expand(pair.value);
        env = setEnv(env, key, value);
        parts.push(`${key}=${value}`);
      }
      return { defaults: { ...defaults, Env: env }, text: `ENV ${parts.join(' ')}` };
    }
    case 'LABEL': {
      const labels = { ...(defaults.Labels ?? {}) };
      const parts: string[] = [];
      for (const pair of command.pairs) {
        const key = expand(pair.key);
        const value = expand(pair.value);
        labels[key] = value;
        parts.push(`${JSON.stringify(key)}=${JSON.stringify(value)}`);
      }
      return { defaults: { ...defaults, Labels: labels }, text: `LABEL ${parts.join(' ')}` };
    }
    case 'EXPOSE': {
      const ports = { ...(defaults.ExposedPorts ?? {}) };
      const added: string[] = [];
      for (const word of command.values) {
        for (const port of exposedPorts(expand(word))) {
          ports[port] = {};
          added.push(port);
        }
      }
      return { defaults: { ...defaults, ExposedPorts: ports }, text: `EXPOSE ${added.join(' ')}` };
    }
    case 'VOLUME': {
      const volumes = { ...(defaults.Volumes ?? {}) };
      const paths = command.values.map((value) => expand(value).trim());
      for (const path of paths) {
        if (path === '') throw invalidArgument(`VOLUME specified can not be an empty string (line ${command.line})`);
        volumes[path] = {};
      }
      return {
        defaults: { ...defaults, Volumes: volumes },
        text: `VOLUME [${paths.map((path) => JSON.stringify(path)).join(',')}]`,
      };
    }
    case 'USER': {
      const user = expand(command.value);
      return { defaults: { ...defaults, User: user }, text: `USER ${user}` };
    }
    case 'STOPSIGNAL': {
      const signal = expand(command.value);
      if (!/^(SIG)?[A-Z0-9]+$/i.test(signal)) throw invalidArgument(`invalid STOPSIGNAL: ${signal}`);
      return { defaults: { ...defaults, StopSignal: signal }, text: `STOPSIGNAL ${signal}` };
    }
    case 'CMD': {
      const cmd = argv(command.form, shell);
      return {
        defaults: { ...defaults, Cmd: cmd },
        text: `CMD ${JSON.stringify(cmd)}`,
      };
    }
    case 'ENTRYPOINT': {
      const entrypoint = argv(command.form, shell);
      // An ENTRYPOINT drops the base image's CMD, unless this stage set one.
      return {
        defaults: { ...defaults, Entrypoint: entrypoint, ...(cmdSet ? {} : { Cmd: null }) },
        text: `ENTRYPOINT ${JSON.stringify(entrypoint)}`,
      };
    }
    case 'SHELL':
      return { defaults: { ...defaults, Shell: [...command.shell] }, text: `SHELL ${JSON.stringify(command.shell)}` };
    case 'HEALTHCHECK': {
      if (command.test === 'NONE') {
        return { defaults: { ...defaults, Healthcheck: { Test: ['NONE'] } }, text: 'HEALTHCHECK NONE' };
      }
      const test = 'exec' in command.test ? ['CMD', ...command.test.exec] : ['CMD-SHELL', command.test.shell];
      const health: HealthConfig = { Test: test, ...healthOptions(command.options, command.line) };
      return {
        defaults: { ...defaults, Healthcheck: health },
        text: `HEALTHCHECK &{${JSON.stringify(test)} ${JSON.stringify(health)}}`,
      };
    }
    case 'MAINTAINER':
      return { defaults, text: `MAINTAINER ${expand(command.value)}` };
    case 'ONBUILD':
      return {
        defaults: { ...defaults, OnBuild: [...(defaults.OnBuild ?? []), command.trigger] },
        text: `ONBUILD ${command.trigger}`,
      };
    default:
      throw new Error(`internal: ${command.kind} is not a metadata instruction`);
  }
}

/** `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`, `80/udp`, `8000/tcp`, `8001/tcp`, `8002/tcp`. */
export function exposedPorts(text: string): string[] {
  const match = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(text);
  if (match === null) throw invalidArgument(`invalid containerPort: ${text}`);
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  if (start < 1 || end > 65535 || end < start) throw invalidArgument(`invalid port range: ${text}`);
  if (end - start > 1000) throw invalidArgument(`port range ${text} is too large (at most 1001 ports)`);
  const protocol = (match[3] ?? 'tcp').toLowerCase();
  const ports: string[] = [];
  for (let port = start; port <= end; port++) ports.push(`${port}/${protocol}`);
  return ports;
}

function healthOptions(options: HealthcheckOptions, line: number): Omit<HealthConfig, 'Test'> {
  const result: Omit<HealthConfig, 'Test'> = {};
  if (options.interval !== undefined) result.Interval = durationNanos(options.interval, 'interval', line);
  if (options.timeout !== undefined) result.Timeout = durationNanos(options.timeout, 'timeout', line);
  if (options.startPeriod !== undefined) result.StartPeriod = durationNanos(options.startPeriod, 'start-period', line);
  if (options.startInterval !== undefined) {
    result.StartInterval = durationNanos(options.startInterval, 'start-interval', line);
  }
  if (options.retries !== undefined) {
    const retries = Number(options.retries);
    if (!Number.isInteger(retries) || retries < 0) {
      throw invalidArgument(`HEALTHCHECK --retries must be a whole number, not ${options.retries} (line ${line})`);
    }
    result.Retries = retries;
  }
  return result;
}

const UNIT_NANOS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds. */
export function durationNanos(text: string, flag: string, line: number): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) {
    throw invalidArgument(`HEALTHCHECK --${flag}=${text} is not a duration such as 30s or 1m30s (line ${line})`);
  }
  return Math.round(parts.reduce((total, part) => total + Number(part[1]) * UNIT_NANOS[part[2]], 0));
}
