import { describe, expect, it } from 'vitest';

import { DOCKER_INIT_PATH, dockerInit } from './docker-init.js';

describe(dockerInit.name, () => {
  it("binds the init read-only where Docker's is, and runs the command behind `--`", () => {
    expect(dockerInit('/opt/skiff/skiff-init', ['nginx', '-g', 'daemon off;'])).toEqual({
      mount: {
        type: 'bind',
        source: '/opt/skiff/skiff-init',
        target: '/sbin/docker-init',
        flags: ['rdonly', 'nosuid', 'nodev'],
      },
      args: ['/sbin/docker-init', '--', 'nginx', '-g', 'daemon off;'],
    });
    expect(DOCKER_INIT_PATH).toBe('/sbin/docker-init');
  });

  it('keeps a command that itself starts with `--` intact', () => {
    expect(dockerInit('/i', ['--', 'x']).args).toEqual(['/sbin/docker-init', '--', '--', 'x']);
  });
});
