import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEngine } from '../../../test/support/test-engine.js';

const run = promisify(execFile);

/** A port that was free a moment ago on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function httpGet(port: number, path: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return response.text();
}

/**
 * Debian's docker-compose 1.29 (docker-py) against the engine's socket: a two-service project
 * with its own network, an alias, a named volume and a published port, up and down again.
 */
describe('docker-compose', () => {
  let fixture: TestEngine;
  let directory: string;
  const project = `skt${randomBytes(3).toString('hex')}`;
  const compose = async (...args: string[]) =>
    (
      await run('docker-compose', ['--project-name', project, ...args], {
        cwd: directory,
        env: fixture.env(),
        timeout: 60_000,
      })
    ).stdout;

  beforeAll(async () => {
    await run('docker-compose', ['version']).catch(() => {
      throw new Error('docker-compose is missing: apt-get install docker-compose (npm test installs it)');
    });
    fixture = await TestEngine.start({ busybox: true });
    directory = await mkdtemp(join(tmpdir(), 'skiff-compose-'));
  });
  afterAll(async () => {
    if (directory) {
      await compose('down', '--volumes').catch(() => undefined);
      await rm(directory, { recursive: true, force: true });
    }
    await fixture?.close();
  });

  it('brings up a project with a network, an alias, a named volume and a published port, and leaves nothing behind', async () => {
    const port = await freePort();
    await writeFile(
      join(directory, 'docker-compose.yml'),
      `version: "3.7"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:${port}:8080"]
    networks:
      appnet:
        aliases: [frontdoor]
  worker:
    image: busybox:latest
    command: ["sh", "-c", "while true; do addr=$$(nslookup frontdoor | awk '/^Name:/ {n=1} n && /^Address/ {print $$NF; exit}'); printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc -w 2 $$addr 8080 > /data/fetched 2>&1; sleep 1; done"]
    volumes: ["data:/data"]
    networks: [appnet]
networks:
  appnet: {}
volumes:
  data: {}
`,
    );
    await compose('up', '-d');
    const networkName = `${project}_appnet`;
    const network = JSON.parse(await fixture.docker('network', 'inspect', networkName))[0] as {
      Id: string;
      Options: Record<string, string>;
      Containers: Record<string, { Name: string }>;
    };
    expect(
      Object.values(network.Containers)
        .map((container) => container.Name)
        .sort(),
    ).toEqual([`${project}_web_1`, `${project}_worker_1`]);
    const web = JSON.parse(await fixture.docker('inspect', `${project}_web_1`))[0] as {
      NetworkSettings: { Networks: Record<string, { Aliases: string[] }> };
    };
    expect(web.NetworkSettings.Networks[networkName].Aliases).toEqual(expect.arrayContaining(['web', 'frontdoor']));

    // The published port answers on 127.0.0.1; the worker reaches web by its alias and keeps the page in the volume.
    await expect.poll(() => httpGet(port, '/').catch(() => ''), { timeout: 10_000 }).toBe('hello-from-web\n');
    await expect
      .poll(() => fixture.docker('exec', `${project}_worker_1`, 'cat', '/data/fetched').catch(() => ''), {
        timeout: 15_000,
      })
      .toContain('hello-from-web');

    const bridge = `sk-${network.Id.slice(0, 12)}`;
    expect((await run('ip', ['-br', 'link'])).stdout).toContain(bridge);
    const veths = (await run('ip', ['-br', 'link', 'show', 'master', bridge])).stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(/[\s@]/)[0]);
    expect(veths).toHaveLength(2);
    const ids = (await fixture.docker('ps', '-q')).split('\n');

    await compose('down');
    const { stdout: rules } = await run('nft', ['list', 'table', 'ip', fixture.network.table]);
    expect(rules).not.toContain(bridge);
    expect(rules).not.toContain('dnat to');
    const { stdout: links } = await run('ip', ['-br', 'link']);
    expect(links).not.toContain(bridge);
    for (const veth of veths) expect(links).not.toContain(veth);
    // The engine names no namespace (each container's dies with it): none mentions the project or its containers.
    const namespaces = (await run('ip', ['netns', 'list'])).stdout;
    for (const name of [project, ...ids]) expect(namespaces).not.toContain(name);
    expect(await fixture.docker('network', 'ls', '--filter', `name=${networkName}`, '-q')).toBe('');
    expect(await fixture.docker('ps', '-aq')).toBe('');
    await expect(httpGet(port, '/')).rejects.toThrow();
    // compose keeps named volumes on down, as with dockerd.
    expect(await fixture.docker('volume', 'ls', '-q')).toContain(`${project}_data`);
  });
});
