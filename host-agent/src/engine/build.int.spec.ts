import { mkdir, readdir, readFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packEntries } from '../../../test/support/busybox-image.js';
import { BuildContextDir } from '../../../test/support/build-context.js';
import { TestEngine } from '../../../test/support/test-engine.js';

// The docker CLI 28 has no buildx here; DOCKER_BUILDKIT=0 makes it use POST /build without asking.
process.env.DOCKER_BUILDKIT = '0';

const THREE_STAGES = `# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS tools
ARG GREETING=hello
RUN mkdir -p /out \\
 && echo "$GREETING from tools" > /out/greeting \\
 && echo ran-tools-step

FROM busybox AS assets
WORKDIR /assets
COPY --chown=65534:65534 data/ ./
RUN echo ran-assets-step && stat -c '%u:%g %n' /assets/file.txt > /assets/owner

FROM \${BASE}
ENV APP_HOME=/app MODE=\${MODE:-prod}
WORKDIR $APP_HOME
COPY --from=tools /out/greeting ./
COPY --from=1 /assets ./assets/
VOLUME /var/cache/app
USER nobody
RUN echo "built as $(id -u):$(id -g)" > /tmp/built-as
EXPOSE 8080 53/udp
LABEL org.example.stage=final
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --retries=2 CMD test -f /app/greeting
ENTRYPOINT ["sh", "-c", "cat \${APP_HOME}/greeting $APP_HOME/assets/file.txt $APP_HOME/assets/owner /tmp/built-as; echo mode=$MODE $0 in $(pwd)"]
CMD ["last-arg"]
`;

interface ImageInspect {
  Id: string;
  Parent: string;
  Config: {
    User: string;
    Env: string[];
    WorkingDir: string;
    Entrypoint: string[] | null;
    Cmd: string[] | null;
    ExposedPorts: Record<string, object>;
    Labels: Record<string, string> | null;
    StopSignal?: string;
    Healthcheck?: { Test: string[]; Interval: number; Retries: number };
  };
  RootFS: { Layers: string[] };
}

/** A raw Engine API call on the engine's socket: status and body. */
function engineCall(
  socketPath: string,
  method: string,
  path: string,
  body?: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const call = request({ socketPath, method, path, headers: { 'Content-Type': 'application/x-tar' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      response.on('error', reject);
    });
    call.on('error', reject);
    call.end(body);
  });
}

describe('docker build (classic builder) with the real CLI', () => {
  let engine: TestEngine;
  const contexts: BuildContextDir[] = [];
  const context = async (files: Record<string, Parameters<typeof BuildContextDir.write>[0][string]>) => {
    const made = await BuildContextDir.write(files);
    contexts.push(made);
    return made.path;
  };
  const inspect = async (name: string): Promise<ImageInspect> =>
    (JSON.parse(await engine.docker('image', 'inspect', name)) as ImageInspect[])[0];
  const builtId = (output: string): string => /Successfully built ([0-9a-f]{12})/.exec(output)?.[1] ?? 'none';

  /** What a failed build must not leave: containers, mounts, build directories, staged layers. */
  const expectNothingLeft = async (): Promise<void> => {
    expect(await engine.docker('ps', '-aq')).toBe('');
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mounts.split('\n').filter((line) => line.includes(engine.root))).toEqual([]);
    expect((await readdir(join(engine.root, 'build'))).filter((name) => name !== 'cache.json')).toEqual([]);
    expect(await readdir(join(engine.root, 'tmp'))).toEqual([]);
  };

  beforeAll(async () => {
    engine = await TestEngine.start({ busybox: true });
  });
  afterAll(async () => {
    await engine?.close();
    for (const made of contexts) await made.remove();
  });

  let firstId = '';
  let threeStages = '';

  it('builds a three-stage Dockerfile whose image runs with what each stage made', async () => {
    threeStages = await context({ Dockerfile: THREE_STAGES, 'data/file.txt': 'asset data\n' });
    const output = await engine.docker(
      'build',
      '-t',
      'three:1',
      '-t',
      'three:latest',
      '--build-arg',
      'GREETING=hi',
      threeStages,
    );
    expect(output).toContain('Step 1/22 : ARG BASE=busybox\n');
    expect(output).toContain('Step 2/22 : FROM $BASE AS tools\n');
    expect(output).toContain(' ---> Running in ');
    expect(output).toMatch(/^ran-tools-step$/m);
    expect(output).toMatch(/^ran-assets-step$/m);
    expect(output).toContain('Successfully tagged three:1\n');
    expect(output).toContain('Successfully tagged three:latest');
    firstId = builtId(output);
    // The RUN after VOLUME had an anonymous volume, removed with its container.
    expect(await engine.docker('volume', 'ls', '-q')).toBe('');
    expect(firstId).toMatch(/^[0-9a-f]{12}$/);

    expect(await engine.docker('run', '--rm', 'three:1')).toBe(
      'hi from tools\nasset data\n65534:65534 /assets/file.txt\nbuilt as 65534:65534\nmode=prod last-arg in /app',
    );
    const image = await inspect('three:1');
    expect(image.Id.slice(7, 19)).toBe(firstId);
    expect(image.Config).toMatchObject({
      User: 'nobody',
      WorkingDir: '/app',
      Cmd: ['last-arg'],
      ExposedPorts: { '8080/tcp': {}, '53/udp': {} },
      Labels: { 'org.example.stage': 'final' },
      StopSignal: 'SIGINT',
      Volumes: { '/var/cache/app': {} },
      Healthcheck: { Test: ['CMD-SHELL', 'test -f /app/greeting'], Interval: 30e9, Retries: 2 },
    });
    expect(image.Config.Env).toEqual(expect.arrayContaining(['APP_HOME=/app', 'MODE=prod']));
    expect(image.Config.Entrypoint?.[0]).toBe('sh');
    // The step images are the parents, hidden from docker images but listed with -a.
    expect(image.Parent).toMatch(/^sha256:/);
    expect(await engine.docker('images', '-aq', '--no-trunc')).toContain(image.Parent);
    expect(await engine.docker('images', '-q', '--no-trunc')).not.toContain(image.Parent);
  });

  it('runs containers of the built image as its USER unless --user says otherwise', async () => {
    expect(await engine.docker('run', '--rm', '--network', 'none', '--entrypoint', 'id', 'three:1', '-u')).toBe(
      '65534',
    );
    expect(
      await engine.docker('run', '--rm', '--network', 'none', '--user', '0', '--entrypoint', 'id', 'three:1', '-u'),
    ).toBe('0');
    const created = await engine.docker('create', '--network', 'none', 'three:1');
    const container = JSON.parse(await engine.docker('inspect', created)) as { Config: { User: string } }[];
    expect(container[0].Config.User).toBe('nobody');
    await engine.docker('rm', created);
  });

  it('takes every step from the cache on an identical second build: same image, no RUN again', async () => {
    const output = await engine.docker('build', '-t', 'three:1', '--build-arg', 'GREETING=hi', threeStages);
    expect(output).toContain(' ---> Using cache\n');
    expect(output).not.toMatch(/^ran-tools-step$/m);
    expect(output).not.toMatch(/^ran-assets-step$/m);
    expect(output).not.toContain('Running in');
    expect(builtId(output)).toBe(firstId);
    expect((await inspect('three:1')).Id.slice(7, 19)).toBe(firstId);
  });

  it('runs a step again when its build arg changes, and everything with --no-cache', async () => {
    const changed = await engine.docker('build', '-t', 'three:other', '--build-arg', 'GREETING=hey', threeStages);
    expect(changed).toMatch(/^ran-tools-step$/m);
    // The assets stage does not depend on the argument: its RUN comes from the cache.
    expect(changed).not.toMatch(/^ran-assets-step$/m);
    expect(await engine.docker('run', '--rm', '--entrypoint', 'cat', 'three:other', '/app/greeting')).toBe(
      'hey from tools',
    );

    const fresh = await engine.docker(
      'build',
      '--no-cache',
      '-t',
      'three:fresh',
      '--build-arg',
      'GREETING=hi',
      threeStages,
    );
    expect(fresh).toMatch(/^ran-tools-step$/m);
    expect(fresh).toMatch(/^ran-assets-step$/m);
    expect(fresh).not.toContain('Using cache');
    expect(builtId(fresh)).not.toBe(firstId);
  });

  it('stops at --target, keeping COPY --chown owners', async () => {
    const output = await engine.docker('build', '--target', 'assets', '-t', 'three:assets', threeStages);
    expect(output).toContain('Step 8/8 : RUN echo ran-assets-step');
    expect(output).not.toContain('FROM ${BASE}');
    expect(await engine.docker('run', '--rm', 'three:assets', 'stat', '-c', '%u:%g', '/assets/file.txt')).toBe(
      '65534:65534',
    );
    expect((await inspect('three:assets')).Config.WorkingDir).toBe('/assets');
  });

  it('shows each step in docker history and marks metadata-only steps as empty layers', async () => {
    const history = await engine.docker('history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'three:1');
    const lines = history.split('\n');
    expect(lines[0]).toBe('/bin/sh -c #(nop)  CMD ["last-arg"]|0B');
    expect(lines).toContain('/bin/sh -c #(nop)  USER nobody|0B');
    expect(lines).toContain('/bin/sh -c #(nop)  WORKDIR /app|0B');
    expect(lines.some((line) => line.startsWith('/bin/sh -c #(nop) COPY --from=tools file:'))).toBe(true);
    // Rows of the build's own steps carry their images' ids, the base image's rows too.
    const ids = (await engine.docker('history', '-q', '--no-trunc', 'three:1')).split('\n');
    const image = await inspect('three:1');
    expect(ids.slice(0, 2)).toEqual([image.Id, image.Parent]);
    expect(ids.at(-2)).toBe((await inspect('busybox')).Id);
    expect(ids.at(-1)).toBe('<missing>');
    const config = JSON.parse(await readFile(join(engine.root, 'content', 'sha256', image.Id.slice(7)), 'utf8')) as {
      history: { created_by: string; empty_layer?: boolean }[];
      rootfs: { diff_ids: string[] };
    };
    const entry = (prefix: string) => config.history.find((item) => item.created_by.includes(prefix));
    expect(entry('#(nop)  ENV APP_HOME=/app MODE=prod')?.empty_layer).toBe(true);
    expect(entry('#(nop)  EXPOSE 8080/tcp 53/udp')?.empty_layer).toBe(true);
    expect(entry('COPY --from=1 multi:')?.empty_layer ?? entry('COPY --from=1 dir:')?.empty_layer).toBeUndefined();
    expect(config.history.filter((item) => item.empty_layer !== true)).toHaveLength(config.rootfs.diff_ids.length);
    expect(image.RootFS.Layers).toHaveLength(config.rootfs.diff_ids.length);
  });

  it('reads the Dockerfile named by -f and leaves out what .dockerignore excludes', async () => {
    const dir = await context({
      'docker/Build.dockerfile': 'FROM busybox\nCOPY . /ctx/\nCMD ["ls", "-A", "/ctx"]\n',
      '.dockerignore': '*.log\nsecret.txt\ndocker\n',
      'keep.txt': 'kept',
      'debug.log': 'noise',
      'secret.txt': 'secret',
      'sub/inner.log': 'not matched by *.log',
    });
    const quiet = await engine.docker(
      'build',
      '-q',
      '--label',
      "org.example.built-by=$USER's test",
      '-f',
      join(dir, 'docker/Build.dockerfile'),
      '-t',
      'ignored:1',
      dir,
    );
    const image = await inspect('ignored:1');
    expect(quiet).toBe(image.Id);
    expect(image.Config.Labels).toEqual({ 'org.example.built-by': "$USER's test" });
    expect((await engine.docker('run', '--rm', 'ignored:1')).split('\n').sort()).toEqual([
      '.dockerignore',
      'keep.txt',
      'sub',
    ]);
    expect(await engine.docker('run', '--rm', 'ignored:1', 'cat', '/ctx/sub/inner.log')).toBe('not matched by *.log');
  });

  it('applies .dockerignore itself for a client that sends everything', async () => {
    const tar = await packEntries([
      { header: { name: 'Dockerfile', type: 'file', mode: 0o644 }, body: 'FROM busybox\nCOPY . /ctx/\n' },
      { header: { name: '.dockerignore', type: 'file', mode: 0o644 }, body: 'secret.txt\n' },
      { header: { name: 'secret.txt', type: 'file', mode: 0o644 }, body: 'secret' },
      { header: { name: 'public.txt', type: 'file', mode: 0o644 }, body: 'public' },
    ]);
    const answer = await engineCall(engine.engine.socketPath, 'POST', '/v1.41/build?t=raw-ignore:1', gzipSync(tar));
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('"aux":{"ID":"sha256:');
    expect(await engine.docker('run', '--rm', 'raw-ignore:1', 'ls', '-A', '/ctx')).toBe(
      '.dockerignore\nDockerfile\npublic.txt',
    );
  });

  it('unpacks a local tar with ADD, copies a plain file as it is, and expands globs', async () => {
    const bundle = await packEntries([
      { header: { name: 'inner/', type: 'directory', mode: 0o755 } },
      { header: { name: 'inner/file.txt', type: 'file', mode: 0o640, uid: 123, gid: 456 }, body: 'from the archive\n' },
    ]);
    const dir = await context({
      Dockerfile:
        'FROM busybox\nADD bundle.tar.gz /opt/\nADD notes.txt /opt/notes.txt\nCOPY conf/*.conf /etc/app/\nCOPY alias.txt /opt/\nCOPY --chmod=600 --chown=nobody notes.txt /opt/private\n',
      'bundle.tar.gz': gzipSync(bundle),
      'notes.txt': 'plain notes\n',
      'alias.txt': { symlink: 'conf/c.txt' },
      'conf/a.conf': 'a',
      'conf/b.conf': 'b',
      'conf/c.txt': 'c',
    });
    await engine.docker('build', '-t', 'added:1', dir);
    expect(await engine.docker('run', '--rm', 'added:1', 'cat', '/opt/inner/file.txt', '/opt/notes.txt')).toBe(
      'from the archive\nplain notes',
    );
    expect(await engine.docker('run', '--rm', 'added:1', 'stat', '-c', '%u:%g %a', '/opt/inner/file.txt')).toBe(
      '123:456 640',
    );
    expect(await engine.docker('run', '--rm', 'added:1', 'ls', '/etc/app')).toBe('a.conf\nb.conf');
    expect(await engine.docker('run', '--rm', 'added:1', 'stat', '-c', '%u:%g %a', '/opt/private')).toBe(
      '65534:65534 600',
    );
    // A symlink named as the source is followed inside the context and copied under its own name.
    expect(await engine.docker('run', '--rm', 'added:1', 'cat', '/opt/alias.txt')).toBe('c');
  });

  it('supports SHELL, shell-form ENTRYPOINT, ONBUILD, COPY --from an image, and FROM scratch', async () => {
    const dir = await context({
      Dockerfile: [
        'FROM busybox AS base',
        'SHELL ["/bin/sh", "-ec"]',
        'RUN echo "shell is $0" > /shell.txt',
        'ONBUILD RUN echo triggered > /triggered',
        'ENTRYPOINT echo entry:$(cat /shell.txt)',
        'FROM base AS child',
        'RUN test -f /triggered',
        'FROM scratch',
        'COPY --from=busybox /bin/busybox /bin/busybox',
        'COPY --from=child /shell.txt /triggered /',
        'CMD ["/bin/busybox", "cat", "/shell.txt", "/triggered"]',
        '',
      ].join('\n'),
    });
    await engine.docker('build', '--target', 'base', '-t', 'shells:base', dir);
    expect(await engine.docker('run', '--rm', 'shells:base')).toBe('entry:shell is /bin/sh');
    const base = (await inspect('shells:base')).Config as ImageInspect['Config'] & { OnBuild: string[] | null };
    expect(base.Entrypoint).toEqual(['/bin/sh', '-ec', 'echo entry:$(cat /shell.txt)']);
    expect(base.OnBuild).toEqual(['RUN echo triggered > /triggered']);
    const output = await engine.docker('build', '-t', 'shells:scratch', dir);
    expect(output).toContain('# Executing 1 build trigger\n');
    expect(await engine.docker('run', '--rm', 'shells:scratch')).toBe('shell is /bin/sh\ntriggered');
    expect((await inspect('shells:scratch')).RootFS.Layers).toHaveLength(2);
  });

  it('resolves a COPY destination through symlinks of the image inside the image, never on the host', async () => {
    const dir = await context({
      Dockerfile: [
        'FROM busybox',
        'RUN ln -s ../../../../../../../tmp/skiff-build-outside /escape && ln -s /etc /etc-link',
        'COPY note.txt /escape/',
        'COPY note.txt /etc-link/note.txt',
        '',
      ].join('\n'),
      'note.txt': 'inside',
    });
    await engine.docker('build', '-t', 'links:1', dir);
    await expect(readdir('/tmp/skiff-build-outside')).rejects.toThrow(/ENOENT/);
    expect(
      await engine.docker('run', '--rm', 'links:1', 'cat', '/tmp/skiff-build-outside/note.txt', '/etc/note.txt'),
    ).toBe('insideinside');
  });

  it('streams all of the output of a RUN step, in order', async () => {
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN seq 1 20000\n' });
    const output = await engine.docker('build', '--no-cache', dir);
    const numbers = output.split('\n').filter((line) => /^\d+$/.test(line));
    expect(numbers).toHaveLength(20000);
    expect(numbers.every((line, index) => Number(line) === index + 1)).toBe(true);
  });

  it('runs RUN steps with the memory limit and shm size given to docker build', async () => {
    const dir = await context({
      Dockerfile:
        'FROM busybox\nRUN (cat /sys/fs/cgroup/memory/memory.limit_in_bytes || cat /sys/fs/cgroup/memory.max) 2>/dev/null && df -k /dev/shm | tail -n 1\n',
    });
    const output = await engine.docker('build', '--no-cache', '-m', '64m', '--shm-size', '8m', dir);
    expect(output).toMatch(/^67108864$/m);
    expect(output).toMatch(/^shm\s+8192\s/m);
  });

  it('stops a build the client gives up on, removing its RUN container', async () => {
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN echo sleeping && sleep 60\n' });
    const cli = spawn('docker', ['build', '-t', 'cancelled:1', dir], {
      env: engine.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      cli.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (/^sleeping$/m.test(seen)) resolve();
      });
      cli.once('exit', () => reject(new Error(`the build ended before its RUN started: ${seen}`)));
    });
    expect(await engine.docker('ps', '-aq')).not.toBe('');
    cli.kill('SIGINT');
    for (let i = 0; i < 100 && (await engine.docker('ps', '-aq')) !== ''; i++) await delay(100);
    for (let i = 0; i < 50 && (await readdir(join(engine.root, 'build'))).length > 1; i++) await delay(100);
    await expectNothingLeft();
    expect(await engine.dockerAll('image', 'inspect', 'cancelled:1')).toMatchObject({ code: 1 });
  });

  describe('bad input', () => {
    let imagesBefore = '';
    beforeAll(async () => {
      imagesBefore = await engine.docker('images', '-aq', '--no-trunc');
    });

    const failing = async (files: Parameters<typeof context>[0]) => {
      const dir = await context(files);
      const result = await engine.dockerAll('build', '-t', 'never:1', dir);
      await expectNothingLeft();
      expect(await engine.docker('images', '-aq', '--no-trunc')).toBe(imagesBefore);
      return result;
    };

    it('refuses a COPY source that climbs out of the context', async () => {
      const result = await failing({ Dockerfile: 'FROM busybox\nCOPY ../../etc/passwd /x\n' });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('forbidden path outside the build context: ../../etc/passwd');
    });

    it('refuses a symlink in the context that points out of it', async () => {
      const absolute = await failing({ Dockerfile: 'FROM busybox\nCOPY link /x\n', link: { symlink: '/etc/passwd' } });
      expect(absolute.code).toBe(1);
      expect(absolute.stderr).toContain('link is a symlink to /etc/passwd, which is outside the build context');
      const relative = await failing({
        Dockerfile: 'FROM busybox\nCOPY sub/link /x\n',
        'sub/link': { symlink: '../../../../etc/shadow' },
      });
      expect(relative.stderr).toContain('which is outside the build context');
    });

    it('refuses an ADD archive whose entries climb out of the destination', async () => {
      const evil = await packEntries([
        { header: { name: '../../../../../../tmp/skiff-build-escape', type: 'file', mode: 0o644 }, body: 'x' },
      ]);
      const result = await failing({ Dockerfile: 'FROM busybox\nADD evil.tar /opt/\n', 'evil.tar': evil });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('skiff-build-escape');
      await expect(readFile('/tmp/skiff-build-escape')).rejects.toThrow(/ENOENT/);
    });

    it('answers bad query parameters with 400 before building', async () => {
      const tar = await packEntries([
        { header: { name: 'Dockerfile', type: 'file', mode: 0o644 }, body: 'FROM busybox\n' },
      ]);
      const call = (query: string) => engineCall(engine.engine.socketPath, 'POST', `/v1.41/build?${query}`, tar);
      expect(await call('t=Not%20A%20Name')).toMatchObject({
        status: 400,
        text: expect.stringContaining('invalid reference'),
      });
      expect(await call('version=2')).toMatchObject({ status: 400, text: expect.stringContaining('BuildKit') });
      expect(await call('buildargs=%5B1%5D')).toMatchObject({
        status: 400,
        text: expect.stringContaining('buildargs'),
      });
      expect(await call('target=nope')).toMatchObject({
        status: 400,
        text: expect.stringContaining('failed to reach build target nope'),
      });
      await expectNothingLeft();
    });

    it('refuses an unknown instruction with its line', async () => {
      const result = await failing({ Dockerfile: 'FROM busybox\nFROBNICATE now\n' });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('dockerfile parse error on line 2: unknown instruction: FROBNICATE');
    });

    it('reports a failing RUN with its exit code and removes its container', async () => {
      const result = await failing({ Dockerfile: 'FROM busybox\nRUN echo about-to-fail && exit 3\n' });
      expect(result.stdout).toContain('about-to-fail');
      expect(result.stderr).toContain(
        "The command '/bin/sh -c echo about-to-fail && exit 3' returned a non-zero code: 3",
      );
      expect(result.code).toBe(3);
    });

    it('refuses a Dockerfile without FROM and a missing base image', async () => {
      expect((await failing({ Dockerfile: 'RUN true\n' })).stderr).toContain('before the first FROM');
      expect((await failing({ Dockerfile: 'FROM no-such-image:1\n' })).stderr).toContain('no-such-image:1');
    });
  });

  it('lets docker image prune remove a dangling build with its intermediate images', async () => {
    const ids = async () => new Set((await engine.docker('images', '-aq', '--no-trunc')).split('\n'));
    const before = await ids();
    const dir = await context({ Dockerfile: 'FROM busybox\nENV DANGLING=1\nRUN echo x > /x\nCMD ["cat", "/x"]\n' });
    const id = builtId(await engine.docker('build', dir));
    const made = [...(await ids())].filter((image) => !before.has(image));
    expect(made).toHaveLength(3);
    expect(await engine.docker('images', '--filter', 'dangling=true', '-q')).toContain(id);
    const pruned = await engine.docker('image', 'prune', '-f');
    expect(pruned).toContain(id);
    const after = await ids();
    expect(made.filter((image) => after.has(image))).toEqual([]);
  });

  it('removes what a build cut short by an agent stop left: its RUN container and its directory', async () => {
    const left = await engine.docker('run', '-d', '--label', 'com.skiff.build-step=step 2', 'busybox', 'sleep', '60');
    const job = join(engine.root, 'build', 'job-0123456789abcdef');
    await mkdir(join(job, 'context'), { recursive: true });
    await engine.restart();
    expect(await engine.docker('ps', '-aq', '--no-trunc')).not.toContain(left);
    await expect(readdir(job)).rejects.toThrow(/ENOENT/);
    await expectNothingLeft();
  });

  it('empties the build cache with docker builder prune', async () => {
    const output = await engine.docker('builder', 'prune', '-f');
    expect(output).toMatch(/Total reclaimed space: \d/);
    const again = await engine.docker('build', '-t', 'three:1', '--build-arg', 'GREETING=hi', threeStages);
    expect(again).not.toContain('Using cache');
    expect(again).toMatch(/^ran-tools-step$/m);
  });
});
