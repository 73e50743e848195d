import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEngine } from '../../../test/support/test-engine.js';

/** The built-in networks through the docker CLI, until the engine makes bridges of its own. */
describe('the built-in networks', () => {
  let fixture: TestEngine;
  const docker = (...args: string[]) => fixture.docker(...args);

  beforeAll(async () => {
    fixture = await TestEngine.start({ busybox: true });
  });
  afterAll(() => fixture?.close());

  it('lists host and none, with filters', async () => {
    expect(await docker('network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}')).toBe(
      'host host local\nnone null local',
    );
    expect(await docker('network', 'ls', '--filter', 'driver=null', '--format', '{{.Name}}')).toBe('none');
    expect(await docker('network', 'ls', '--filter', 'type=custom', '-q')).toBe('');
    const refused = await fixture.dockerAll('network', 'ls', '--filter', 'colour=blue');
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/invalid filter 'colour'/) });
  });

  it('inspects a network by name or id, with the running containers on it', async () => {
    await docker('run', '-d', '--name', 'on-host', '--network', 'host', 'busybox', 'sleep', '3600');
    await docker('run', '-d', '--name', 'on-none', '--network', 'none', 'busybox', 'sleep', '3600');
    const host = JSON.parse(await docker('network', 'inspect', 'host'))[0] as {
      Id: string;
      Driver: string;
      Containers: Record<string, { Name: string }>;
    };
    expect(host.Driver).toBe('host');
    expect(Object.values(host.Containers).map((container) => container.Name)).toEqual(['on-host']);
    const byId = JSON.parse(await docker('network', 'inspect', host.Id.slice(0, 12)))[0] as { Name: string };
    expect(byId.Name).toBe('host');
    expect(await docker('network', 'inspect', 'none', '--format', '{{range .Containers}}{{.Name}}{{end}}')).toBe(
      'on-none',
    );
    await docker('rm', '-f', 'on-host', 'on-none');
    expect(await docker('network', 'inspect', 'host', '--format', '{{len .Containers}}')).toBe('0');
  });

  it('says what is missing for a network that is not there, and for making one', async () => {
    const missing = await fixture.dockerAll('network', 'inspect', 'backend');
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/network backend not found/) });
    const create = await fixture.dockerAll('network', 'create', 'backend');
    expect(create.code).toBe(1);
    expect(create.stderr).toMatch(/not implemented by this engine yet/);
  });
});
