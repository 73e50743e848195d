import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar } from '../../../test/support/busybox-image.js';
import { TestEngine } from '../../../test/support/test-engine.js';

const run = promisify(execFile);

/** Options of docker run beyond the basics, docker update, attach, and a Docker library (dockerode). */
describe('more of the engine through docker and dockerode', () => {
  let fixture: TestEngine;
  let root: string;
  const env = () => fixture.env();
  const docker = (...args: string[]) => fixture.docker(...args);

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true });
    root = fixture.root;
  });
  afterAll(() => fixture?.close());

  it('keeps the root filesystem read-only with --read-only, tmpfs mounts still writable', async () => {
    const out = await docker(
      'run',
      '--rm',
      '--read-only',
      '--tmpfs',
      '/scratch',
      'busybox',
      'sh',
      '-c',
      'touch /x 2>/dev/null || echo refused; touch /scratch/y && echo tmpfs-ok',
    );
    expect(out).toBe('refused\ntmpfs-ok');
  });

  it('runs a reaping init as pid 1 with --init', async () => {
    const out = await docker('run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "');
    expect(out).toMatch(/^\/sbin\/docker-init -- sh -c/);
  });

  it('shares the host network with --network host', async () => {
    const interfaces = (await docker('run', '--rm', '--network', 'host', 'busybox', 'ls', '/sys/class/net')).split(
      '\n',
    );
    const { stdout } = await run('ls', ['/sys/class/net']);
    expect(interfaces.sort()).toEqual(stdout.trim().split('\n').sort());
  });

  it('reports a missing command as Docker does, with exit code 127', async () => {
    const failed = await run('docker', ['run', '--rm', 'busybox', 'nosuchcmd'], { env: env() }).catch(
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(failed).toMatchObject({ code: 127, stderr: expect.stringMatching(/executable file not found/) });
    expect(await docker('ps', '-aq')).toBe('');
  });

  it('lets a --privileged container mount', async () => {
    expect(
      await docker(
        'run',
        '--rm',
        '--privileged',
        'busybox',
        'sh',
        '-c',
        'mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted',
      ),
    ).toBe('mounted');
  });

  it('passes a host device in with --device', async () => {
    const out = await docker(
      'run',
      '--rm',
      '--device',
      '/dev/null:/dev/mynull',
      'busybox',
      'sh',
      '-c',
      'ls -l /dev/mynull; echo x > /dev/mynull && echo writable',
    );
    expect(out).toMatch(/^c.* 1,\s+3 .*\/dev\/mynull\nwritable$/);
  });

  it('changes the limits of a running container with docker update', async () => {
    await docker('run', '-d', '--name', 'limited', '-m', '32m', 'busybox', 'sleep', '60');
    await docker('update', '--memory', '64m', '--memory-swap', '128m', 'limited');
    expect(await docker('inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}', 'limited')).toBe(
      '67108864 134217728',
    );
    const limit = await readFileText(
      `/sys/fs/cgroup/memory/skiff/${await docker('inspect', '-f', '{{.Id}}', 'limited')}/memory.limit_in_bytes`,
    );
    expect(limit).toBe('67108864');
    await docker('rm', '-f', 'limited');
  });

  it('restarts a container, and docker attach follows a running one', async () => {
    await docker('run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'sleep 0.5; echo later; sleep 60');
    const first = await docker('inspect', '-f', '{{.State.StartedAt}}', 'talker');
    const attached = spawn('docker', ['attach', '--no-stdin', 'talker'], { env: env() });
    let output = '';
    attached.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(output).toContain('later');
    attached.kill('SIGKILL');
    await docker('restart', '-t', '0', 'talker');
    expect(await docker('inspect', '-f', '{{.State.Running}}', 'talker')).toBe('true');
    expect(await docker('inspect', '-f', '{{.State.StartedAt}}', 'talker')).not.toBe(first);
    await docker('rm', '-f', 'talker');
  });

  it('fills a new volume from the image at its path, and shares it with --volumes-from', async () => {
    const rootfs = join(root, 'rootfs.tar');
    await writeFile(rootfs, await busyboxRootfsTar());
    await docker('import', '--change', 'VOLUME /etc', '--change', 'CMD ["sh"]', rootfs, 'with-volume:1');
    await docker('run', '--name', 'owner', 'with-volume:1', 'sh', '-c', 'echo added > /etc/added');
    const volume = await docker('inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', 'owner');
    expect(volume).toMatch(/^[0-9a-f]{64}$/);
    // The image's /etc/passwd was copied into the new volume, and what the container wrote stayed there.
    expect(
      await docker(
        'run',
        '--rm',
        '--volumes-from',
        'owner',
        'busybox',
        'sh',
        '-c',
        'head -1 /etc/passwd; cat /etc/added',
      ),
    ).toBe('root:x:0:0:root:/root:/bin/sh\nadded');
    await docker('rm', '-v', 'owner');
    expect(await docker('volume', 'ls', '-q')).not.toContain(volume);
  });

  it('keeps containers running while the agent restarts, and finds them again', async () => {
    await docker(
      'run',
      '-d',
      '--name',
      'survivor',
      'busybox',
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo n $i; sleep 0.1; done',
    );
    await fixture.restart(800);
    expect(await docker('ps', '--format', '{{.Names}} {{.State}}')).toBe('survivor running');
    const lines = (await docker('logs', 'survivor')).split('\n');
    // No gap and no duplicate: the shim kept writing the log while no agent ran.
    expect(lines).toEqual(lines.map((_, index) => `n ${index + 1}`));
    expect(lines.length).toBeGreaterThan(5);
    await docker('stop', '-t', '1', 'survivor');
    expect(await docker('inspect', '-f', '{{.State.Status}}', 'survivor')).toBe('exited');
    await docker('rm', 'survivor');
  });

  it('publishes image and volume events, and streams stats until stopped', async () => {
    // `since` counts whole seconds: start in a second of its own, after the set-up's events.
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 10));
    const since = String(Math.floor(Date.now() / 1000));
    await docker('volume', 'create', 'evented');
    await docker('volume', 'rm', 'evented');
    await docker('tag', 'busybox', 'busybox:evented');
    await docker('rmi', 'busybox:evented');
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const events = await docker(
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'type=volume',
      '--filter',
      'type=image',
      '--format',
      '{{.Type}} {{.Action}}',
    );
    expect(events.split('\n')).toEqual(['volume create', 'volume destroy', 'image tag', 'image untag']);

    await docker('run', '-d', '--name', 'streamed', 'busybox', 'sleep', '60');
    const stats = spawn('docker', ['stats', '--format', '{{.Name}} {{.PIDs}}', 'streamed'], { env: fixture.env() });
    let seen = '';
    stats.stdout.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    await new Promise((resolve) => setTimeout(resolve, 3500));
    stats.kill('SIGKILL');
    // The CLI redraws the table once per reading: several readings arrived.
    expect(seen.match(/streamed 1/g)?.length).toBeGreaterThanOrEqual(2);
    await docker('rm', '-f', 'streamed');
  });

  it('serves dockerode: create, start, wait, logs and list', async () => {
    const client = new Docker({ socketPath: fixture.engine.socketPath });
    const container = await client.createContainer({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'echo from-dockerode'],
      Labels: { via: 'dockerode' },
    });
    await container.start();
    expect(await container.wait()).toMatchObject({ StatusCode: 0 });
    const logs = await container.logs({ stdout: true, stderr: true });
    expect(logs.toString('utf8')).toContain('from-dockerode');
    const listed = await client.listContainers({ all: true, filters: { label: ['via=dockerode'] } });
    expect(listed.map((item) => item.Id)).toEqual([container.id]);
    await container.remove();
    await expect(container.inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});

async function readFileText(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return (await readFile(path, 'utf8')).trim();
}
