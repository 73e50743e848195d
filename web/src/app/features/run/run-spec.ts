/** The run form's model, turned into a `POST /containers/create` body and an equivalent `docker run` line. */

export interface KeyValueRow {
  key: string;
  value: string;
}

export type MountKind = 'volume' | 'bind' | 'tmpfs';

export interface MountRow {
  kind: MountKind;
  /** A volume name (empty: an anonymous volume) or, for a bind mount, an absolute host path. */
  source: string;
  target: string;
  readOnly: boolean;
}

export interface PortRow {
  hostPort: string;
  containerPort: string;
  protocol: 'tcp' | 'udp';
}

export const RESTART_POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

export interface RunSpec {
  hostId: string;
  image: string;
  name: string;
  command: string;
  entrypoint: string;
  env: KeyValueRow[];
  labels: KeyValueRow[];
  mounts: MountRow[];
  /** `512m`, `1g`, bytes… */
  memory: string;
  cpus: string;
  pids: string;
  restart: RestartPolicy;
  restartRetries: string;
  /** Empty: the engine's default network. */
  network: string;
  ports: PortRow[];
  user: string;
  workdir: string;
  tty: boolean;
  interactive: boolean;
  privileged: boolean;
}

export function emptyRunSpec(hostId = ''): RunSpec {
  return {
    hostId,
    image: '',
    name: '',
    command: '',
    entrypoint: '',
    env: [],
    labels: [],
    mounts: [],
    memory: '',
    cpus: '',
    pids: '',
    restart: 'no',
    restartRetries: '',
    network: '',
    ports: [],
    user: '',
    workdir: '',
    tty: false,
    interactive: false,
    privileged: false,
  };
}

/** A problem with one field, worded for the user. */
export interface RunProblem {
  field: string;
  message: string;
}

/** Splits a command line into words as a POSIX shell would for quotes and backslashes (no expansion). */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote === "'") {
      if (char === "'") quote = null;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = null;
      else if (char === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) word += line[++i];
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (char === '\\') {
      if (i + 1 >= line.length) throw new Error('ends with a lone backslash');
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote) throw new Error(`has an unclosed ${quote === '"' ? 'double' : 'single'} quote`);
  if (inWord) words.push(word);
  return words;
}

/** Quotes a word for a POSIX shell, only when it needs it. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `512m` → bytes; null when it is not a size. */
export function parseSize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(text.trim());
  if (!match) return null;
  return Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!);
}

const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ENV_KEY_PATTERN = /^[^=\s]+$/;
const MIN_MEMORY = 6 * 1024 * 1024;

/** Every problem of the spec; empty when it can be submitted. */
export function validateRunSpec(spec: RunSpec): RunProblem[] {
  const problems: RunProblem[] = [];
  const problem = (field: string, message: string) => problems.push({ field, message });
  if (!spec.hostId) problem('host', 'Choose the host to run on.');
  if (!spec.image.trim()) problem('image', 'Choose or type an image, e.g. busybox:latest.');
  else if (/\s/.test(spec.image.trim())) problem('image', 'An image reference has no spaces.');
  if (spec.name.trim() && !NAME_PATTERN.test(spec.name.trim())) {
    problem('name', 'A name starts with a letter or digit and has only letters, digits, _ . and -.');
  }
  for (const [field, text] of [
    ['command', spec.command],
    ['entrypoint', spec.entrypoint],
  ] as const) {
    try {
      splitWords(text);
    } catch (error) {
      problem(field, `The ${field} ${(error as Error).message}.`);
    }
  }
  spec.env.forEach((row, index) => {
    if (!row.key.trim() && !row.value) return;
    if (!ENV_KEY_PATTERN.test(row.key.trim()))
      problem(`env.${index}`, `Environment row ${index + 1}: the name cannot be empty or hold = or spaces.`);
  });
  spec.labels.forEach((row, index) => {
    if (!row.key.trim() && !row.value) return;
    if (!row.key.trim()) problem(`labels.${index}`, `Label row ${index + 1}: the key cannot be empty.`);
  });
  const targets = new Set<string>();
  spec.mounts.forEach((row, index) => {
    const label = `Mount row ${index + 1}`;
    const target = row.target.trim();
    if (!target.startsWith('/'))
      problem(`mounts.${index}`, `${label}: the container path must be absolute (start with /).`);
    else if (targets.has(target)) problem(`mounts.${index}`, `${label}: ${target} is mounted twice.`);
    targets.add(target);
    const source = row.source.trim();
    if (row.kind === 'bind' && !source.startsWith('/')) {
      problem(`mounts.${index}`, `${label}: a bind mount needs an absolute host path.`);
    }
    if (row.kind === 'volume' && source && !NAME_PATTERN.test(source)) {
      problem(
        `mounts.${index}`,
        `${label}: a volume name has only letters, digits, _ . and - (leave it empty for an anonymous volume).`,
      );
    }
    // The engine makes anonymous volumes from `Volumes`, which has no read-only flag, and `docker
    // run -v /data:ro` is an invalid spec: the box would be silently ignored.
    if (row.kind === 'volume' && !source && row.readOnly) {
      problem(`mounts.${index}`, `${label}: an anonymous volume cannot be read-only; give the volume a name.`);
    }
  });
  if (spec.memory.trim()) {
    const bytes = parseSize(spec.memory);
    if (bytes === null) problem('memory', 'Memory is a size such as 512m or 1g.');
    else if (bytes < MIN_MEMORY) problem('memory', 'The engine needs at least 6m of memory.');
  }
  if (spec.cpus.trim() && !(Number(spec.cpus) > 0)) problem('cpus', 'CPUs is a positive number such as 0.5 or 2.');
  if (spec.pids.trim() && !/^(-1|[1-9]\d*)$/.test(spec.pids.trim()))
    problem('pids', 'The PIDs limit is a whole number above 0 (or -1 for none).');
  if (spec.restart === 'on-failure' && spec.restartRetries.trim() && !/^\d+$/.test(spec.restartRetries.trim())) {
    problem('restartRetries', 'Retries is a whole number (0 for no limit).');
  }
  spec.ports.forEach((row, index) => {
    const label = `Port row ${index + 1}`;
    if (!isPort(row.containerPort))
      problem(`ports.${index}`, `${label}: the container port is a number from 1 to 65535.`);
    if (row.hostPort.trim() && !isPort(row.hostPort))
      problem(`ports.${index}`, `${label}: the host port is a number from 1 to 65535 (or empty for any).`);
  });
  if (spec.ports.length > 0 && (spec.network === 'host' || spec.network === 'none')) {
    problem('ports', `Ports are not published with the ${spec.network} network.`);
  }
  return problems;
}

function isPort(text: string): boolean {
  const port = Number(text.trim());
  return /^\d+$/.test(text.trim()) && port >= 1 && port <= 65535;
}

function filledRows(rows: readonly KeyValueRow[]): KeyValueRow[] {
  return rows.filter((row) => row.key.trim() !== '');
}

function mountSpec(row: MountRow): string {
  const source = row.source.trim();
  const target = row.target.trim();
  const base = source ? `${source}:${target}` : target;
  return row.readOnly ? `${base}:ro` : base;
}

function retries(spec: RunSpec): number {
  return spec.restartRetries.trim() ? Number(spec.restartRetries.trim()) : 0;
}

/** The body of `POST /containers/create`; call only on a spec without problems. */
export function createBody(spec: RunSpec): Record<string, unknown> {
  const command = splitWords(spec.command);
  const entrypoint = splitWords(spec.entrypoint);
  const hostConfig: Record<string, unknown> = {};
  const body: Record<string, unknown> = { Image: spec.image.trim() };
  if (command.length) body['Cmd'] = command;
  if (entrypoint.length) body['Entrypoint'] = entrypoint;
  const env = filledRows(spec.env).map((row) => `${row.key.trim()}=${row.value}`);
  if (env.length) body['Env'] = env;
  const labels = filledRows(spec.labels);
  if (labels.length) body['Labels'] = Object.fromEntries(labels.map((row) => [row.key.trim(), row.value]));
  if (spec.user.trim()) body['User'] = spec.user.trim();
  if (spec.workdir.trim()) body['WorkingDir'] = spec.workdir.trim();
  if (spec.tty) body['Tty'] = true;
  if (spec.interactive) {
    body['OpenStdin'] = true;
    body['AttachStdin'] = false;
  }

  const binds = spec.mounts.filter((row) => row.kind !== 'tmpfs' && row.source.trim()).map(mountSpec);
  if (binds.length) hostConfig['Binds'] = binds;
  const anonymous = spec.mounts.filter((row) => row.kind === 'volume' && !row.source.trim());
  if (anonymous.length) body['Volumes'] = Object.fromEntries(anonymous.map((row) => [row.target.trim(), {}]));
  const tmpfs = spec.mounts.filter((row) => row.kind === 'tmpfs');
  if (tmpfs.length) {
    hostConfig['Tmpfs'] = Object.fromEntries(tmpfs.map((row) => [row.target.trim(), row.readOnly ? 'ro' : '']));
  }
  if (spec.memory.trim()) hostConfig['Memory'] = parseSize(spec.memory);
  if (spec.cpus.trim()) hostConfig['NanoCpus'] = Math.round(Number(spec.cpus) * 1e9);
  if (spec.pids.trim()) hostConfig['PidsLimit'] = Number(spec.pids.trim());
  if (spec.restart !== 'no') {
    hostConfig['RestartPolicy'] = {
      Name: spec.restart,
      ...(spec.restart === 'on-failure' ? { MaximumRetryCount: retries(spec) } : {}),
    };
  }
  if (spec.network) hostConfig['NetworkMode'] = spec.network;
  if (spec.ports.length) {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostPort: string }[]> = {};
    for (const row of spec.ports) {
      const key = `${row.containerPort.trim()}/${row.protocol}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostPort: row.hostPort.trim() });
    }
    body['ExposedPorts'] = exposed;
    hostConfig['PortBindings'] = bindings;
  }
  if (spec.privileged) hostConfig['Privileged'] = true;
  if (Object.keys(hostConfig).length) body['HostConfig'] = hostConfig;
  return body;
}

/** The `docker run` line that would make the same container, shell-quoted. */
export function dockerRunLine(spec: RunSpec): string {
  const args: string[] = ['docker', 'run', '-d'];
  const add = (...words: string[]) => args.push(...words.map(shellQuote));
  if (spec.name.trim()) add('--name', spec.name.trim());
  if (spec.interactive) add('-i');
  if (spec.tty) add('-t');
  for (const row of filledRows(spec.env)) add('-e', `${row.key.trim()}=${row.value}`);
  for (const row of filledRows(spec.labels)) add('-l', `${row.key.trim()}=${row.value}`);
  for (const row of spec.mounts) {
    if (!row.target.trim()) continue;
    if (row.kind === 'tmpfs') add('--tmpfs', row.readOnly ? `${row.target.trim()}:ro` : row.target.trim());
    else add('-v', mountSpec(row));
  }
  if (spec.memory.trim()) add('--memory', spec.memory.trim());
  if (spec.cpus.trim()) add('--cpus', spec.cpus.trim());
  if (spec.pids.trim()) add('--pids-limit', spec.pids.trim());
  if (spec.restart !== 'no') {
    add('--restart', spec.restart === 'on-failure' && retries(spec) > 0 ? `on-failure:${retries(spec)}` : spec.restart);
  }
  if (spec.network) add('--network', spec.network);
  for (const row of spec.ports) {
    if (!row.containerPort.trim()) continue;
    const container = `${row.containerPort.trim()}${row.protocol === 'udp' ? '/udp' : ''}`;
    add('-p', row.hostPort.trim() ? `${row.hostPort.trim()}:${container}` : container);
  }
  if (spec.user.trim()) add('-u', spec.user.trim());
  if (spec.workdir.trim()) add('-w', spec.workdir.trim());
  if (spec.privileged) add('--privileged');
  let entrypoint: string[] = [];
  let command: string[] = [];
  try {
    entrypoint = splitWords(spec.entrypoint);
    command = splitWords(spec.command);
  } catch {
    // Shown as a problem of the form; the line leaves the unreadable part out.
  }
  // `--entrypoint` takes one word; the rest of it comes first in the arguments, as the engine joins them.
  if (entrypoint.length) add('--entrypoint', entrypoint[0]!);
  add(spec.image.trim() || '<image>');
  add(...entrypoint.slice(1), ...command);
  return args.join(' ');
}

/** Whether the spec reaches into the host, which needs `container.privileged`. */
export function needsPrivileged(spec: RunSpec): boolean {
  return spec.privileged || spec.network === 'host' || spec.mounts.some((row) => row.kind === 'bind');
}
