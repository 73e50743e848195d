import { describe, expect, it } from 'vitest';
import {
  baseName,
  goFileMode,
  overwriteRefusal,
  PathResolveError,
  resolveInRoot,
  type NodeKind,
  type RootView,
} from './container-archive.js';

type FakeNode = { kind: 'directory' } | { kind: 'file' } | { kind: 'symlink'; target: string };

/** A container root at /root made of `nodes`, keyed by their path inside the container. */
function view(nodes: Record<string, FakeNode>): RootView & { asked: string[] } {
  const asked: string[] = [];
  const inside = (hostPath: string) => {
    if (!hostPath.startsWith('/root/')) throw new Error(`the resolver left the root: ${hostPath}`);
    return hostPath.slice('/root'.length);
  };
  return {
    asked,
    kind(hostPath) {
      asked.push(hostPath);
      const node = nodes[inside(hostPath)];
      const kind: NodeKind = node === undefined ? 'missing' : node.kind === 'file' ? 'other' : node.kind;
      return Promise.resolve(kind);
    },
    readlink(hostPath) {
      const node = nodes[inside(hostPath)];
      if (node?.kind !== 'symlink') throw new Error(`not a symlink: ${hostPath}`);
      return Promise.resolve(node.target);
    },
  };
}

const dir = { kind: 'directory' } as const;
const file = { kind: 'file' } as const;
const link = (target: string) => ({ kind: 'symlink', target }) as const;

describe(resolveInRoot.name, () => {
  it('resolves a plain path under the root', async () => {
    const resolved = await resolveInRoot('/root', '/tmp/file', view({ '/tmp': dir, '/tmp/file': file }), {
      followFinal: false,
    });
    expect(resolved).toEqual({ containerPath: '/tmp/file', hostPath: '/root/tmp/file', kind: 'other' });
  });

  it('takes an absolute symlink from the container root, never the host', async () => {
    const fs = view({ '/tmp': dir, '/tmp/evil': link('/etc'), '/etc': dir });
    const resolved = await resolveInRoot('/root', '/tmp/evil/', fs, { followFinal: true });
    expect(resolved).toMatchObject({ containerPath: '/etc', hostPath: '/root/etc', kind: 'directory' });
  });

  it('stops a ../../.. symlink at the container root', async () => {
    const fs = view({ '/tmp': dir, '/tmp/up': link('../../../../etc'), '/etc': dir });
    const resolved = await resolveInRoot('/root', '/tmp/up/passwd', fs, { followFinal: false });
    expect(resolved).toEqual({ containerPath: '/etc/passwd', hostPath: '/root/etc/passwd', kind: 'missing' });
  });

  it('clamps .. in the path itself at the root', async () => {
    const resolved = await resolveInRoot('/root', '/../../etc', view({ '/etc': dir }), { followFinal: false });
    expect(resolved.hostPath).toBe('/root/etc');
  });

  it('keeps a final symlink as it is unless asked to follow it', async () => {
    const fs = view({ '/tmp': dir, '/tmp/evil': link('/etc'), '/etc': dir });
    const kept = await resolveInRoot('/root', '/tmp/evil', fs, { followFinal: false });
    expect(kept).toMatchObject({ containerPath: '/tmp/evil', kind: 'symlink' });
  });

  it('follows symlinks in the middle of a path, relative ones from their own directory', async () => {
    const fs = view({ '/a': dir, '/a/b': link('../c'), '/c': dir, '/c/f': file });
    const resolved = await resolveInRoot('/root', '/a/b/f', fs, { followFinal: false });
    expect(resolved.containerPath).toBe('/c/f');
  });

  it('refuses a symlink loop with a clear error', async () => {
    const fs = view({ '/a': link('/b'), '/b': link('/a') });
    const failure = resolveInRoot('/root', '/a/x', fs, { followFinal: false });
    await expect(failure).rejects.toThrow(PathResolveError);
    await expect(failure).rejects.toThrow(/too many levels of symbolic links/);
  });

  it('names the missing component of a parent', async () => {
    const failure = resolveInRoot('/root', '/nope/deeper/file', view({}), { followFinal: false });
    await expect(failure).rejects.toMatchObject({ reason: 'missing', at: '/nope' });
  });

  it('refuses a file used as a directory', async () => {
    const failure = resolveInRoot('/root', '/f/x', view({ '/f': file }), { followFinal: false });
    await expect(failure).rejects.toMatchObject({ reason: 'not-a-directory', at: '/f' });
  });

  it('answers the root itself for /', async () => {
    expect(await resolveInRoot('/root', '/', view({}), { followFinal: true })).toEqual({
      containerPath: '/',
      hostPath: '/root',
      kind: 'directory',
    });
  });
});

describe(overwriteRefusal.name, () => {
  it('refuses a file over a directory', () => {
    expect(overwriteRefusal('directory', 'other', '/tmp/d', 'd')).toBe(
      'cannot overwrite directory "/tmp/d" with non-directory "d"',
    );
  });

  it('refuses a directory over a file', () => {
    expect(overwriteRefusal('other', 'directory', '/tmp/f', 'f')).toBe(
      'cannot overwrite non-directory "/tmp/f" with directory "f"',
    );
  });

  it('allows a directory into a directory, a file over a file, and anything where nothing is', () => {
    expect(overwriteRefusal('directory', 'directory', '/d', 'd')).toBeUndefined();
    expect(overwriteRefusal('other', 'other', '/f', 'f')).toBeUndefined();
    expect(overwriteRefusal('missing', 'directory', '/n', 'n')).toBeUndefined();
  });
});

describe(goFileMode.name, () => {
  it("gives Go's directory and symlink bits, not st_mode's", () => {
    expect(goFileMode(0o040755)).toBe(2 ** 31 + 0o755);
    expect(goFileMode(0o120777)).toBe(2 ** 27 + 0o777);
    expect(goFileMode(0o100644)).toBe(0o644);
    expect(goFileMode(0o041777)).toBe(2 ** 31 + 2 ** 20 + 0o777);
  });
});

describe(baseName.name, () => {
  it('is the last component the user gave', () => {
    expect(baseName('/tmp/dir/')).toBe('dir');
    expect(baseName('/etc/passwd')).toBe('passwd');
  });
});
