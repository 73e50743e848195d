import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar, packEntries } from '../../../test/support/busybox-image.js';
import {
  makeImage,
  removeLayout,
  skopeoPush,
  writeLayout,
  type TestImage,
} from '../../../test/support/oci-test-images.js';
import { FaultProxy } from '../../../test/support/fault-proxy.js';
import { repoRoot, startNode, type Started } from '../../../test/support/processes.js';
import { storeSnapshot } from '../../../test/support/registry-checks.js';
import { TestEngine } from '../../../test/support/test-engine.js';
import { TestRegistry } from '../../../test/support/test-registry.js';
import { uniqueNetwork } from '../../../test/support/unique-network.js';
import type { ProgressMessage } from './progress-message.js';

const run = promisify(execFile);
const file = (name: string, body: string | Buffer) => ({ header: { name, type: 'file' as const, mode: 0o644 }, body });
const short = (digest: string) => digest.slice(7, 19);

/** A `POST /images/create` whose progress lines the test reads as they come. */
class PullStream {
  readonly messages: ProgressMessage[] = [];
  readonly done: Promise<void>;
  private readonly waiters = new Set<() => void>();
  private cancelled = false;
  private cancelRequest: () => void = () => undefined;

  constructor(socketPath: string, image: string, tag: string) {
    this.done = new Promise<void>((resolve, reject) => {
      const query = new URLSearchParams({ fromImage: image, tag });
      const outgoing = request(
        {
          socketPath,
          method: 'POST',
          path: `/v1.41/images/create?${query.toString()}`,
          headers: { 'X-Registry-Auth': 'e30=' },
        },
        (response) => {
          let rest = '';
          response.on('data', (chunk: Buffer) => {
            const lines = (rest + chunk.toString()).split('\n');
            rest = lines.pop() ?? '';
            for (const line of lines) if (line.trim() !== '') this.messages.push(JSON.parse(line) as ProgressMessage);
            for (const wake of this.waiters) wake();
          });
          response.on('end', () => resolve());
          response.on('error', (error) => (this.cancelled ? resolve() : reject(error)));
        },
      );
      outgoing.on('error', (error) => (this.cancelled ? resolve() : reject(error)));
      outgoing.end();
      this.cancelRequest = () => outgoing.destroy();
    });
  }

  /** Resolves once a line matches. */
  until(predicate: (message: ProgressMessage) => boolean, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.messages.some(predicate)) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no such progress line within ${timeoutMs} ms:\n${this.text()}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** The statuses of one layer, each run of the same status once. */
  statuses(id: string): string[] {
    const statuses: string[] = [];
    for (const message of this.messages) {
      if (message.id === id && message.status !== undefined && statuses.at(-1) !== message.status) {
        statuses.push(message.status);
      }
    }
    return statuses;
  }

  indexOf(id: string, status: string): number {
    return this.messages.findIndex((message) => message.id === id && message.status === status);
  }

  text(): string {
    return this.messages.map((message) => JSON.stringify(message)).join('\n');
  }

  cancel(): void {
    this.cancelled = true;
    this.cancelRequest();
  }
}

/** How many blob GETs for `digest` a proxy passed on, whatever the repository. */
const blobGets = (proxy: FaultProxy, digest: string): number =>
  proxy.requests.filter((head) => head.startsWith('GET ') && head.split(' ')[1]?.endsWith(`/blobs/${digest}`)).length;

/** Established connections to `host:port` on this machine. */
async function connectionsTo(hostAndPort: string): Promise<number> {
  const port = hostAndPort.split(':')[1];
  const { stdout } = await run('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`]);
  return stdout.split('\n').filter((line) => line.trim() !== '').length;
}

describe('docker pull: progress, shared downloads and closing', () => {
  let registry: TestRegistry;
  let engine: TestEngine;
  const layouts: string[] = [];
  let base: Buffer;

  const put = async (image: TestImage, repository: string): Promise<void> => {
    const layout = await writeLayout(image.blobs, image.manifest, 'v');
    layouts.push(layout);
    await skopeoPush(layout, 'v', `${registry.host}/${repository}`);
  };
  /** busybox, then a file of random bytes (which gzip cannot shrink), then a small marker. */
  const bigImage = async (bytes: number, marker: string): Promise<TestImage> =>
    makeImage({
      layers: [
        { tar: base, compression: 'gzip' },
        { tar: await packEntries([file('big', randomBytes(bytes))]), compression: 'gzip' },
        { tar: await packEntries([file('marker', marker)]), compression: 'gzip' },
      ],
    });

  beforeAll(async () => {
    registry = await TestRegistry.start();
    engine = await TestEngine.start();
    base = await busyboxRootfsTar();
  });
  afterAll(async () => {
    await engine?.close();
    await registry?.close();
    for (const layout of layouts) await removeLayout(layout);
  });

  it("tells each layer's progress as dockerd does, each layer complete as it lands", async () => {
    const image = await bigImage(8 << 20, 'progress');
    await put(image, 'progress/app:1');
    const slow = await FaultProxy.start(registry.host, { bytesPerSecond: 8 << 20 });
    try {
      const pull = new PullStream(engine.engine.socketPath, `${slow.host}/progress/app`, '1');
      await pull.done;
      const [bottom, big, top] = image.layers.map((layer) => short(layer.digest));
      expect(pull.messages.at(-1)?.status).toBe(`Status: Downloaded newer image for ${slow.host}/progress/app:1`);
      for (const id of [bottom, big, top]) {
        expect(pull.statuses(id)).toEqual([
          'Pulling fs layer',
          'Downloading',
          'Verifying Checksum',
          'Download complete',
          'Extracting',
          'Pull complete',
        ]);
      }
      const bars = (status: string) =>
        pull.messages.filter((message) => message.id === big && message.status === status);
      const total = image.layers[1].bytes.length;
      expect(bars('Downloading').length).toBeGreaterThan(2);
      expect(bars('Downloading').every((message) => message.progressDetail?.total === total)).toBe(true);
      expect(bars('Extracting').at(-1)?.progressDetail).toEqual({ current: total, total });
      // The small layers are in place while the big one still downloads, not all at the end.
      expect(pull.indexOf(bottom, 'Pull complete')).toBeLessThan(pull.indexOf(big, 'Download complete'));
      expect(pull.indexOf(top, 'Pull complete')).toBeLessThan(pull.indexOf(big, 'Download complete'));
    } finally {
      await slow.close();
    }
    expect(await engine.docker('run', '--rm', `${slow.host}/progress/app:1`, 'cat', '/marker')).toBe('progress');
  });

  it('downloads each blob once when the same image is pulled twice at once', async () => {
    const image = await bigImage(6 << 20, 'twice');
    await put(image, 'twice/app:1');
    const slow = await FaultProxy.start(registry.host, { bytesPerSecond: 8 << 20 });
    try {
      const name = `${slow.host}/twice/app:1`;
      const outputs = await Promise.all([engine.docker('pull', name), engine.docker('pull', name)]);
      for (const output of outputs) expect(output).toContain(`Digest: ${image.manifest.digest}`);
      // The busybox layer is here from the test before: "Already exists", never asked for.
      expect(blobGets(slow, image.layers[0].digest)).toBe(0);
      for (const blob of [image.config, image.layers[1], image.layers[2]]) expect(blobGets(slow, blob.digest)).toBe(1);
      expect(await engine.docker('run', '--rm', name, 'wc', '-c', '/big')).toBe(`${6 << 20} /big`);
    } finally {
      await slow.close();
    }
  });

  it('downloads a layer two images share once when both are pulled at once', async () => {
    const shared = await packEntries([file('shared', randomBytes(6 << 20))]);
    const images = await Promise.all(
      ['one', 'two'].map(async (marker) =>
        makeImage({
          layers: [
            { tar: shared, compression: 'gzip' },
            { tar: await packEntries([file('marker', marker)]), compression: 'gzip' },
          ],
        }),
      ),
    );
    // gzip is deterministic here: both images name the same blob for the shared layer.
    expect(images[0].layers[0].digest).toBe(images[1].layers[0].digest);
    await put(images[0], 'sharing/one:1');
    await put(images[1], 'sharing/two:1');
    const slow = await FaultProxy.start(registry.host, { bytesPerSecond: 8 << 20 });
    try {
      await Promise.all([
        engine.docker('pull', `${slow.host}/sharing/one:1`),
        engine.docker('pull', `${slow.host}/sharing/two:1`),
      ]);
      expect(blobGets(slow, images[0].layers[0].digest)).toBe(1);
      expect(blobGets(slow, images[0].layers[1].digest)).toBe(1);
      expect(blobGets(slow, images[1].layers[1].digest)).toBe(1);
      const inspected = JSON.parse(
        await engine.docker('image', 'inspect', `${slow.host}/sharing/one:1`, `${slow.host}/sharing/two:1`),
      ) as { RootFS: { Layers: string[] } }[];
      expect(inspected.map((image) => image.RootFS.Layers)).toEqual(
        images.map((image) => image.layers.map((layer) => layer.diffId)),
      );
    } finally {
      await slow.close();
    }
  });

  it('lets a pull waiting for a cancelled pull download the layer itself', async () => {
    const image = await bigImage(8 << 20, 'cancelled');
    await put(image, 'cancelled/app:1');
    const big = image.layers[1];
    const slow = await FaultProxy.start(registry.host, { bytesPerSecond: 4 << 20 });
    try {
      const before = await storeSnapshot(engine.root);
      const first = new PullStream(engine.engine.socketPath, `${slow.host}/cancelled/app`, '1');
      const downloading = (message: ProgressMessage) =>
        message.id === short(big.digest) &&
        message.status === 'Downloading' &&
        (message.progressDetail?.current ?? 0) > 1 << 20;
      await first.until(downloading);
      const second = new PullStream(engine.engine.socketPath, `${slow.host}/cancelled/app`, '1');
      // The second pull shows the first one's download rather than starting its own.
      await second.until(downloading);
      expect(blobGets(slow, big.digest)).toBe(1);
      first.cancel();
      await first.done;
      await second.done;
      expect(second.messages.at(-1)?.status).toBe(`Status: Downloaded newer image for ${slow.host}/cancelled/app:1`);
      expect(blobGets(slow, big.digest)).toBe(2);
      expect(await engine.docker('run', '--rm', `${slow.host}/cancelled/app:1`, 'cat', '/marker')).toBe('cancelled');
      const after = await storeSnapshot(engine.root);
      expect(after.temporary).toEqual([]);
      expect(after.images.length).toBe(before.images.length + 1);
    } finally {
      await slow.close();
    }
  });

  it('closes its connections to registries when the engine closes', async () => {
    const image = makeImage({ layers: [{ tar: await packEntries([file('marker', 'close')]), compression: 'gzip' }] });
    await put(image, 'closing/app:1');
    const proxy = await FaultProxy.start(registry.host, {});
    try {
      await engine.docker('pull', `${proxy.host}/closing/app:1`);
      // Kept alive for the next pull...
      expect(await connectionsTo(proxy.host)).toBeGreaterThan(0);
      await engine.restart(0, async () => {
        // ...and gone once the engine has closed.
        await expect.poll(() => connectionsTo(proxy.host), { timeout: 2000 }).toBe(0);
      });
    } finally {
      await proxy.close();
    }
  });
});

/**
 * The real agent (host-agent/dist: build it first) is SIGKILLed in the middle of a pull. Its
 * next start throws away the partial download; the complete blobs stay for a pull run again,
 * for a day, and are removed after that unless an image uses them.
 */
describe('what a SIGKILLed pull leaves', () => {
  const agentScript = join(repoRoot, 'host-agent/bin/skiff-agent.js');
  const network = uniqueNetwork();
  let registry: TestRegistry;
  let root: string;
  let socket: string;
  let agent: Started | undefined;
  const layouts: string[] = [];
  const env = () => ({ ...process.env, DOCKER_HOST: `unix://${socket}` });
  const docker = async (...args: string[]) =>
    (await run('docker', args, { env: env(), timeout: 30_000 })).stdout.trim();
  const blobs = async () => (await readdir(join(root, 'content/sha256')).catch(() => [] as string[])).sort();
  const pullFiles = async () => (await readdir(join(root, 'registry/pulls')).catch(() => [] as string[])).sort();
  const hex = (digest: string) => digest.slice(7);

  const startAgent = async () => {
    agent = startNode(agentScript, ['--root', root, '--socket', socket, '--log-level', 'info'], {
      SKIFF_BRIDGE: network.bridgeName,
      SKIFF_BRIDGE_SUBNET: network.bridgeSubnet,
      SKIFF_NETWORK_POOL: network.pool,
      SKIFF_NFT_TABLE: network.table,
    });
    await agent.waitForOutput(/engine API on unix:/);
  };

  /** Pushes a two-layer image (small, then `bytes` of random data) and kills the agent while it pulls it. */
  const killDuringPull = async (repository: string): Promise<TestImage> => {
    const image = makeImage({
      layers: [
        { tar: await packEntries([file('marker', repository)]), compression: 'gzip' },
        { tar: await packEntries([file('big', randomBytes(16 << 20))]), compression: 'gzip' },
      ],
    });
    const layout = await writeLayout(image.blobs, image.manifest, 'v');
    layouts.push(layout);
    await skopeoPush(layout, 'v', `${registry.host}/${repository}:1`);
    const files = (await pullFiles()).length;
    const slow = await FaultProxy.start(registry.host, { bytesPerSecond: 4 << 20 });
    try {
      const pull = new PullStream(socket, `${slow.host}/${repository}`, '1');
      const [small, big] = image.layers.map((layer) => short(layer.digest));
      await pull.until((message) => message.id === small && message.status === 'Pull complete');
      await pull.until(
        (message) =>
          message.id === big && message.status === 'Downloading' && (message.progressDetail?.current ?? 0) > 2 << 20,
      );
      const ended = pull.done.catch(() => undefined);
      agent?.child.kill('SIGKILL');
      await agent?.exited;
      await ended;
    } finally {
      await slow.close();
    }
    // What the killed pull left: its complete blobs, its file, the partial download in tmp/.
    expect(await blobs()).toEqual(expect.arrayContaining([hex(image.config.digest), hex(image.layers[0].digest)]));
    expect(await blobs()).not.toContain(hex(image.layers[1].digest));
    expect((await readdir(join(root, 'tmp'))).some((name) => name.startsWith('blob-'))).toBe(true);
    expect(await pullFiles()).toHaveLength(files + 1);
    return image;
  };

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root: run the tests as root');
    registry = await TestRegistry.start();
    root = await mkdtemp(join(tmpdir(), 'skiff-killedpull-'));
    await chmod(root, 0o711);
    socket = join(root, 'docker.sock');
    await startAgent();
  });
  afterAll(async () => {
    if (agent && agent.child.exitCode === null && agent.child.signalCode === null) await agent.stop('SIGTERM');
    await run('ip', ['link', 'del', network.bridgeName]).catch(() => undefined);
    await run('nft', ['delete', 'table', 'ip', network.table]).catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true });
    await registry?.close();
    for (const layout of layouts) await removeLayout(layout);
  });

  let first: { image: TestImage; name: string } | undefined;

  it('keeps its complete blobs for a pull run again, which does not download them again', async () => {
    const image = await killDuringPull('killed/first');
    await startAgent();
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    const proxy = await FaultProxy.start(registry.host, {});
    try {
      const name = `${proxy.host}/killed/first:1`;
      expect(await docker('pull', name)).toContain(`Status: Downloaded newer image for ${name}`);
      expect(blobGets(proxy, image.config.digest)).toBe(0);
      expect(blobGets(proxy, image.layers[0].digest)).toBe(0);
      expect(blobGets(proxy, image.layers[1].digest)).toBe(1);
      first = { image, name };
    } finally {
      await proxy.close();
    }
  });

  it('removes them once they are a day old, but not the blobs an image uses', async () => {
    const image = await killDuringPull('killed/second');
    const dayAgo = new Date(Date.now() - 25 * 60 * 60 * 1000);
    // The first test's file too: its blobs went into an image since.
    expect((await pullFiles()).length).toBe(first === undefined ? 1 : 2);
    for (const name of await pullFiles()) await utimes(join(root, 'registry/pulls', name), dayAgo, dayAgo);
    await startAgent();
    await expect.poll(pullFiles, { timeout: 10_000 }).toEqual([]);
    const left = await blobs();
    expect(left).not.toContain(hex(image.config.digest));
    expect(left).not.toContain(hex(image.layers[0].digest));
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    if (first !== undefined) {
      for (const blob of [first.image.config, ...first.image.layers]) expect(left).toContain(hex(blob.digest));
      expect(await docker('image', 'inspect', '--format', '{{.Id}}', first.name)).toBe(first.image.config.digest);
    }
  });
});
