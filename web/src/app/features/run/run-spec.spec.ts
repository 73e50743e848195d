import { describe, expect, it } from 'vitest';

import {
  type RunSpec,
  createBody,
  dockerRunLine,
  emptyRunSpec,
  needsPrivileged,
  parseSize,
  shellQuote,
  splitWords,
  validateRunSpec,
} from './run-spec';

const spec = (changes: Partial<RunSpec>): RunSpec => ({ ...emptyRunSpec('host-1'), image: 'busybox', ...changes });
const problemsOf = (changes: Partial<RunSpec>) => validateRunSpec(spec(changes)).map((problem) => problem.message);

describe(splitWords.name, () => {
  it('splits on blanks and honours quotes and backslashes as a shell does', () => {
    expect(splitWords(`sh -c "echo 'hi there'; sleep 1"`)).toEqual(['sh', '-c', "echo 'hi there'; sleep 1"]);
    expect(splitWords(`echo 'a "b"' c\\ d "e\\"f" "\\n"`)).toEqual(['echo', 'a "b"', 'c d', 'e"f', '\\n']);
    expect(splitWords('  ls   -l  ')).toEqual(['ls', '-l']);
    expect(splitWords(`printf '' x`)).toEqual(['printf', '', 'x']);
    expect(splitWords('a"b"c')).toEqual(['abc']);
    expect(splitWords('')).toEqual([]);
  });

  it('refuses an unclosed quote or a trailing backslash, naming which', () => {
    expect(() => splitWords('echo "hi')).toThrow('unclosed double quote');
    expect(() => splitWords("echo 'hi")).toThrow('unclosed single quote');
    expect(() => splitWords('echo hi\\')).toThrow('lone backslash');
  });
});

describe(shellQuote.name, () => {
  it('leaves plain words alone and single-quotes the rest', () => {
    expect(shellQuote('busybox:latest')).toBe('busybox:latest');
    expect(shellQuote('/data:ro')).toBe('/data:ro');
    expect(shellQuote('hello there')).toBe("'hello there'");
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('$HOME')).toBe("'$HOME'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('quotes so that the shell reads back the same word', () => {
    for (const word of ["it's", 'a "b" c', '$(rm -rf /)', 'tab\there', '', 'back\\slash']) {
      expect(splitWords(shellQuote(word))).toEqual([word]);
    }
  });
});

describe(parseSize.name, () => {
  it('reads bytes and binary suffixes in either case, with an optional b', () => {
    expect(parseSize('100')).toBe(100);
    expect(parseSize('64k')).toBe(64 * 1024);
    expect(parseSize('512m')).toBe(512 * 1024 ** 2);
    expect(parseSize('512MB')).toBe(512 * 1024 ** 2);
    expect(parseSize(' 1.5g ')).toBe(1.5 * 1024 ** 3);
  });

  it('refuses what is not a size', () => {
    expect(parseSize('lots')).toBeNull();
    expect(parseSize('1t')).toBeNull();
    expect(parseSize('-1m')).toBeNull();
    expect(parseSize('')).toBeNull();
  });
});

describe(validateRunSpec.name, () => {
  it('accepts the smallest spec: a host and an image', () => {
    expect(validateRunSpec(spec({}))).toEqual([]);
  });

  it('asks for a host and an image, naming the field', () => {
    expect(validateRunSpec(emptyRunSpec())).toEqual([
      { field: 'host', message: 'Choose the host to run on.' },
      { field: 'image', message: 'Choose or type an image, e.g. busybox:latest.' },
    ]);
    expect(problemsOf({ image: 'busy box' })).toEqual(['An image reference has no spaces.']);
  });

  it('refuses a bad name, command, environment row and label row', () => {
    expect(problemsOf({ name: '-web' })).toEqual([
      'A name starts with a letter or digit and has only letters, digits, _ . and -.',
    ]);
    expect(problemsOf({ command: 'sh -c "echo' })).toEqual(['The command has an unclosed double quote.']);
    expect(problemsOf({ entrypoint: "sh '" })).toEqual(['The entrypoint has an unclosed single quote.']);
    expect(problemsOf({ env: [{ key: 'A B', value: '1' }] })).toEqual([
      'Environment row 1: the name cannot be empty or hold = or spaces.',
    ]);
    expect(problemsOf({ env: [{ key: '', value: 'orphan' }] })).toHaveLength(1);
    expect(problemsOf({ labels: [{ key: ' ', value: 'x' }] })).toEqual(['Label row 1: the key cannot be empty.']);
    // Rows left wholly empty are ignored, as the form adds them before they are filled.
    expect(problemsOf({ env: [{ key: '', value: '' }], labels: [{ key: '', value: '' }] })).toEqual([]);
  });

  it('refuses relative, twice-mounted, relative-bind and badly named volume mounts', () => {
    expect(
      problemsOf({
        mounts: [
          { kind: 'volume', source: 'data', target: 'data', readOnly: false },
          { kind: 'tmpfs', source: '', target: '/run', readOnly: false },
          { kind: 'volume', source: '', target: '/run', readOnly: false },
          { kind: 'bind', source: 'srv', target: '/srv', readOnly: false },
          { kind: 'volume', source: 'bad name', target: '/x', readOnly: false },
        ],
      }),
    ).toEqual([
      'Mount row 1: the container path must be absolute (start with /).',
      'Mount row 3: /run is mounted twice.',
      'Mount row 4: a bind mount needs an absolute host path.',
      'Mount row 5: a volume name has only letters, digits, _ . and - (leave it empty for an anonymous volume).',
    ]);
  });

  it('refuses a read-only anonymous volume, which the engine would make writable', () => {
    expect(problemsOf({ mounts: [{ kind: 'volume', source: '', target: '/data', readOnly: true }] })).toEqual([
      'Mount row 1: an anonymous volume cannot be read-only; give the volume a name.',
    ]);
    expect(problemsOf({ mounts: [{ kind: 'volume', source: 'data', target: '/data', readOnly: true }] })).toEqual([]);
  });

  it('checks limits, retries and ports', () => {
    expect(problemsOf({ memory: 'much' })).toEqual(['Memory is a size such as 512m or 1g.']);
    expect(problemsOf({ memory: '4m' })).toEqual(['The engine needs at least 6m of memory.']);
    expect(problemsOf({ memory: '6m', cpus: '0.5', pids: '-1' })).toEqual([]);
    expect(problemsOf({ cpus: '0' })).toEqual(['CPUs is a positive number such as 0.5 or 2.']);
    expect(problemsOf({ cpus: 'two' })).toHaveLength(1);
    expect(problemsOf({ pids: '0' })).toEqual(['The PIDs limit is a whole number above 0 (or -1 for none).']);
    expect(problemsOf({ restart: 'on-failure', restartRetries: 'x' })).toEqual([
      'Retries is a whole number (0 for no limit).',
    ]);
    expect(problemsOf({ restart: 'always', restartRetries: 'x' })).toEqual([]);
    expect(problemsOf({ ports: [{ hostPort: '70000', containerPort: '0', protocol: 'tcp' }] })).toEqual([
      'Port row 1: the container port is a number from 1 to 65535.',
      'Port row 1: the host port is a number from 1 to 65535 (or empty for any).',
    ]);
    expect(problemsOf({ network: 'host', ports: [{ hostPort: '', containerPort: '80', protocol: 'tcp' }] })).toEqual([
      'Ports are not published with the host network.',
    ]);
  });
});

describe(createBody.name, () => {
  it('is only the image for the smallest spec', () => {
    expect(createBody(spec({ image: ' busybox:latest ' }))).toEqual({ Image: 'busybox:latest' });
  });

  it('turns every field into the Engine API create body', () => {
    const body = createBody(
      spec({
        command: `sh -c 'echo hi; sleep 5'`,
        entrypoint: '/bin/tini --',
        env: [
          { key: 'GREETING', value: 'hello there' },
          { key: '', value: '' },
        ],
        labels: [{ key: 'tier', value: 'web' }],
        mounts: [
          { kind: 'volume', source: 'data', target: '/data', readOnly: false },
          { kind: 'volume', source: '', target: '/cache', readOnly: false },
          { kind: 'bind', source: '/srv/conf', target: '/conf', readOnly: true },
          { kind: 'tmpfs', source: '', target: '/run', readOnly: true },
        ],
        memory: '512m',
        cpus: '1.5',
        pids: '100',
        restart: 'on-failure',
        restartRetries: '3',
        network: 'none',
        user: 'nobody',
        workdir: '/tmp',
        tty: true,
        interactive: true,
        privileged: true,
      }),
    );
    expect(body).toEqual({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'echo hi; sleep 5'],
      Entrypoint: ['/bin/tini', '--'],
      Env: ['GREETING=hello there'],
      Labels: { tier: 'web' },
      User: 'nobody',
      WorkingDir: '/tmp',
      Tty: true,
      OpenStdin: true,
      AttachStdin: false,
      Volumes: { '/cache': {} },
      HostConfig: {
        Binds: ['data:/data', '/srv/conf:/conf:ro'],
        Tmpfs: { '/run': 'ro' },
        Memory: 512 * 1024 ** 2,
        NanoCpus: 1_500_000_000,
        PidsLimit: 100,
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
        NetworkMode: 'none',
        Privileged: true,
      },
    });
  });

  it('publishes ports, several host ports for one container port included', () => {
    const body = createBody(
      spec({
        ports: [
          { hostPort: '8080', containerPort: '80', protocol: 'tcp' },
          { hostPort: '', containerPort: '80', protocol: 'tcp' },
          { hostPort: '5353', containerPort: '53', protocol: 'udp' },
        ],
      }),
    );
    expect(body['ExposedPorts']).toEqual({ '80/tcp': {}, '53/udp': {} });
    expect(body['HostConfig']).toEqual({
      PortBindings: { '80/tcp': [{ HostPort: '8080' }, { HostPort: '' }], '53/udp': [{ HostPort: '5353' }] },
    });
  });

  it('names the restart policy without retries unless it is on-failure', () => {
    expect(createBody(spec({ restart: 'unless-stopped', restartRetries: '4' }))['HostConfig']).toEqual({
      RestartPolicy: { Name: 'unless-stopped' },
    });
  });
});

describe(dockerRunLine.name, () => {
  it('is docker run -d with the image when nothing else is set', () => {
    expect(dockerRunLine(spec({}))).toBe('docker run -d busybox');
    expect(dockerRunLine(emptyRunSpec())).toBe("docker run -d '<image>'");
  });

  it('writes every option as the docker CLI takes it, quoted for a shell', () => {
    const line = dockerRunLine(
      spec({
        name: 'web-1',
        command: `sh -c "echo ran; sleep 300"`,
        env: [{ key: 'GREETING', value: 'hello there' }],
        labels: [{ key: 'tier', value: 'web' }],
        mounts: [
          { kind: 'volume', source: 'data', target: '/data', readOnly: true },
          { kind: 'volume', source: '', target: '/cache', readOnly: false },
          { kind: 'tmpfs', source: '', target: '/run', readOnly: false },
          { kind: 'volume', source: 'unfinished', target: '', readOnly: false },
        ],
        memory: '512m',
        cpus: '0.5',
        pids: '64',
        restart: 'on-failure',
        restartRetries: '2',
        network: 'host',
        ports: [
          { hostPort: '8080', containerPort: '80', protocol: 'tcp' },
          { hostPort: '', containerPort: '53', protocol: 'udp' },
        ],
        user: '1000:1000',
        workdir: '/srv/my app',
        interactive: true,
        tty: true,
        privileged: true,
      }),
    );
    expect(line).toBe(
      'docker run -d --name web-1 -i -t -e ' +
        "'GREETING=hello there' -l tier=web -v data:/data:ro -v /cache --tmpfs /run --memory 512m --cpus 0.5 " +
        "--pids-limit 64 --restart on-failure:2 --network host -p 8080:80 -p 53/udp -u 1000:1000 -w '/srv/my app' " +
        "--privileged busybox sh -c 'echo ran; sleep 300'",
    );
  });

  it('gives --entrypoint its first word and puts the rest before the command', () => {
    expect(dockerRunLine(spec({ entrypoint: 'sh -c', command: "'echo $HOME'" }))).toBe(
      "docker run -d --entrypoint sh busybox -c 'echo $HOME'",
    );
  });

  it('reads back, through a shell, as the words of the create body', () => {
    const filled = spec({
      name: 'quoted',
      command: `sh -c "printf '%s\\n' \\"it's\\""`,
      env: [{ key: 'MOTTO', value: `don't panic; $PATH` }],
    });
    const words = splitWords(dockerRunLine(filled));
    const body = createBody(filled);
    expect(words.slice(words.indexOf('busybox') + 1)).toEqual(body['Cmd']);
    expect(words[words.indexOf('-e') + 1]).toBe((body['Env'] as string[])[0]);
  });

  it('leaves out an unreadable command instead of writing a wrong one', () => {
    expect(dockerRunLine(spec({ command: 'echo "unclosed' }))).toBe('docker run -d busybox');
  });

  it('writes on-failure without a count when retries are unlimited', () => {
    expect(dockerRunLine(spec({ restart: 'on-failure', restartRetries: '0' }))).toBe(
      'docker run -d --restart on-failure busybox',
    );
  });
});

describe(needsPrivileged.name, () => {
  it('is needed for privileged mode, the host network and bind mounts only', () => {
    expect(needsPrivileged(spec({}))).toBe(false);
    expect(needsPrivileged(spec({ network: 'none' }))).toBe(false);
    expect(needsPrivileged(spec({ mounts: [{ kind: 'volume', source: 'd', target: '/d', readOnly: false }] }))).toBe(
      false,
    );
    expect(needsPrivileged(spec({ privileged: true }))).toBe(true);
    expect(needsPrivileged(spec({ network: 'host' }))).toBe(true);
    expect(needsPrivileged(spec({ mounts: [{ kind: 'bind', source: '/srv', target: '/srv', readOnly: false }] }))).toBe(
      true,
    );
  });
});
