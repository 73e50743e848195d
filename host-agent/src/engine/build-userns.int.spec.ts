import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BuildContextDir } from '../../../test/support/build-context.js';
import { TestEngine } from '../../../test/support/test-engine.js';

process.env.DOCKER_BUILDKIT = '0';

/**
 * A build on an engine with `--userns-remap`: RUN containers run in the user namespace, COPY
 * writes host ids into the layers, and the image shows the container ids again.
 */
describe('docker build with --userns-remap', () => {
  let engine: TestEngine;
  let context: BuildContextDir;

  beforeAll(async () => {
    engine = await TestEngine.start({ busybox: true, usernsRemap: 'default' });
    context = await BuildContextDir.write({
      Dockerfile: [
        'FROM busybox AS make',
        'RUN mkdir /out && echo made > /out/file && chown 1000:1000 /out/file',
        'FROM busybox',
        'COPY --chown=65534:65534 note.txt /data/',
        'COPY --from=make /out/file /data/made',
        'RUN stat -c "%u:%g %n" /data/note.txt /data/made > /data/owners',
        'CMD ["cat", "/data/owners", "/data/made"]',
        '',
      ].join('\n'),
      'note.txt': 'note',
    });
  });
  afterAll(async () => {
    await engine?.close();
    await context?.remove();
  });

  it('builds and runs with container ids where the Dockerfile gave them', async () => {
    await engine.docker('build', '-t', 'remapped:1', context.path);
    expect(await engine.docker('run', '--rm', 'remapped:1')).toBe('65534:65534 /data/note.txt\n0:0 /data/made\nmade');
    const again = await engine.docker('build', '-t', 'remapped:1', context.path);
    expect(again).not.toContain('Running in');
  });
});
