import { readdir, readFile, readlink } from 'node:fs/promises';
import { request } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEngine } from '../../../test/support/test-engine.js';

/** How many create/start/rm cycles; SKIFF_HYGIENE_CYCLES shortens it while working on the engine. */
const CYCLES = Number(process.env['SKIFF_HYGIENE_CYCLES'] ?? 1000);
/** After the warm-up, the engine's heap may grow this much over all the cycles, no more. */
const HEAP_GROWTH_BOUND = 16 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** One Engine API call over the engine's socket, as a Docker library makes it. */
function call(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const outgoing = request(
      {
        socketPath,
        method,
        path: `/v1.41${path}`,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

interface Footprint {
  mounts: number;
  cgroups: number;
  netNamespaces: number;
  fds: number;
  zombies: number;
  storeEntries: number;
}

/** 1,000 containers made, run and removed: nothing of them may stay behind. */
describe('resource hygiene over many container lifecycles', () => {
  let fixture: TestEngine;
  const ids: string[] = [];

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true });
  });
  afterAll(() => fixture?.close());

  /** What the engine holds on the host: mounts under its root, cgroups of its containers, and so on. */
  const footprint = async (): Promise<Footprint> => {
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    const cgroupDirs = (await listCgroupDirectories()).filter((name) => ids.includes(name));
    const children = await childProcesses();
    return {
      mounts: mountinfo.split('\n').filter((line) => line.includes(fixture.root)).length,
      cgroups: cgroupDirs.length,
      netNamespaces: await countNetNamespaces(),
      fds: (await readdir('/proc/self/fd')).length,
      zombies: children.filter((child) => child.state === 'Z').length,
      storeEntries: (await readdir(`${fixture.root}/containers`)).length,
    };
  };

  it(`leaks no mount, cgroup, namespace, descriptor, zombie or memory over ${CYCLES} cycles`, async () => {
    const socket = fixture.engine.socketPath;
    expect((await call(socket, 'POST', '/volumes/create', { Name: 'hygiene' })).status).toBe(201);
    const cycle = async (index: number) => {
      const created = await call(socket, 'POST', `/containers/create?name=cycle-${index}`, {
        Image: 'busybox',
        Cmd: ['sh', '-c', 'echo $0 > /data/last; echo cycle', String(index)],
        HostConfig: { Binds: ['hygiene:/data'], Tmpfs: { '/scratch': 'size=1m' } },
      });
      expect(created.status, created.body).toBe(201);
      const id = (JSON.parse(created.body) as { Id: string }).Id;
      ids.push(id);
      const started = await call(socket, 'POST', `/containers/${id}/start`);
      expect(started.status, started.body).toBe(204);
      const waited = await call(socket, 'POST', `/containers/${id}/wait`);
      expect(JSON.parse(waited.body)).toMatchObject({ StatusCode: 0 });
      const removed = await call(socket, 'DELETE', `/containers/${id}?v=true`);
      expect(removed.status, removed.body).toBe(204);
    };

    const warmUp = Math.min(50, Math.floor(CYCLES / 10));
    for (let index = 0; index < warmUp; index++) await cycle(index);
    const before = await footprint();
    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;

    for (let index = warmUp; index < CYCLES; index++) await cycle(index);
    // Exits are handled a moment after wait answers; give the last ones that moment.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await footprint();
    collectGarbage();
    const heapAfter = process.memoryUsage().heapUsed;

    expect(after).toEqual({ ...before, fds: after.fds });
    expect(after.fds - before.fds).toBeLessThanOrEqual(2);
    expect(after.cgroups).toBe(0);
    expect(after.zombies).toBe(0);
    expect(heapAfter - heapBefore).toBeLessThan(HEAP_GROWTH_BOUND);
    expect(await fixture.docker('ps', '-aq')).toBe('');
    // The named volume lived through it all, with the last cycle's mark.
    expect(await fixture.docker('run', '--rm', '-v', 'hygiene:/data', 'busybox', 'cat', '/data/last')).toBe(
      String(CYCLES - 1),
    );
  }, 300_000);
});

/** Container cgroup directories under every hierarchy Skiff uses (v1 controllers or the v2 tree). */
async function listCgroupDirectories(): Promise<string[]> {
  const found: string[] = [];
  for (const base of [
    '/sys/fs/cgroup/skiff',
    '/sys/fs/cgroup/memory/skiff',
    '/sys/fs/cgroup/pids/skiff',
    '/sys/fs/cgroup/cpu/skiff',
  ]) {
    const entries = await readdir(base, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) found.push(entry.name);
  }
  return found;
}

/** Network namespaces other than this process's own held by its descendants (shims, containers). */
async function countNetNamespaces(): Promise<number> {
  const parents = new Map<number, number>();
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (stat) parents.set(Number(pid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
  }
  const descends = (pid: number): boolean => {
    for (let at = parents.get(pid); at !== undefined && at > 1; at = parents.get(at))
      if (at === process.pid) return true;
    return false;
  };
  const own = await readlink('/proc/self/ns/net');
  const namespaces = new Set<string>();
  for (const pid of parents.keys()) {
    if (!descends(pid)) continue;
    const link = await readlink(`/proc/${pid}/ns/net`).catch(() => undefined);
    if (link && link !== own) namespaces.add(link);
  }
  return namespaces.size;
}

/** This process's children with their state letter (R, S, Z…). */
async function childProcesses(): Promise<{ pid: number; state: string }[]> {
  const children: { pid: number; state: string }[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === process.pid) children.push({ pid: Number(pid), state: fields[0] });
  }
  return children;
}
