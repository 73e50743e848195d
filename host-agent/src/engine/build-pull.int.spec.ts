import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BuildContextDir } from '../../../test/support/build-context.js';
import { TestEngine } from '../../../test/support/test-engine.js';
import { TestRegistry } from '../../../test/support/test-registry.js';

process.env.DOCKER_BUILDKIT = '0';

/** A base image that is not here is pulled by the build, as dockerd's classic builder does. */
describe('docker build pulling its base image', () => {
  let registry: TestRegistry;
  let engine: TestEngine;
  let context: BuildContextDir;
  let base = '';

  beforeAll(async () => {
    registry = await TestRegistry.start();
    engine = await TestEngine.start({ busybox: true });
    base = `${registry.host}/base/busybox:1`;
    await engine.docker('tag', 'busybox', base);
    await engine.docker('push', base);
    await engine.docker('rmi', base);
    context = await BuildContextDir.write({
      Dockerfile: `FROM ${base}\nRUN echo on-the-pulled-base > /marker\nCMD ["cat", "/marker"]\n`,
    });
  });
  afterAll(async () => {
    await engine?.close();
    await registry?.close();
    await context?.remove();
  });

  it('pulls a missing FROM image from its registry, then builds on it', async () => {
    expect((await engine.dockerAll('image', 'inspect', base)).code).toBe(1);
    const output = await engine.docker('build', '-t', 'on-pulled:1', context.path);
    expect(output).toContain('Pulling from base/busybox');
    expect(output).toContain('Successfully tagged on-pulled:1');
    expect(await engine.docker('run', '--rm', 'on-pulled:1')).toBe('on-the-pulled-base');
    expect((await engine.dockerAll('image', 'inspect', base)).code).toBe(0);
  });

  it('says which image it could not pull', async () => {
    const missing = await BuildContextDir.write({ Dockerfile: `FROM ${registry.host}/base/absent:1\n` });
    try {
      const result = await engine.dockerAll('build', missing.path);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${registry.host}/base/absent`);
    } finally {
      await missing.remove();
    }
  });
});
