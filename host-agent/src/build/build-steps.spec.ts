import { describe, expect, it } from 'vitest';

import { toCommands } from './dockerfile-instructions.js';
import { parseDockerfile } from './dockerfile-parser.js';
import { applyMetadata, durationNanos, exposedPorts, planStages, stagesUpTo, variables } from './build-steps.js';

const commands = (text: string) => toCommands(parseDockerfile(text).instructions, '\\');

describe(planStages.name, () => {
  it('splits stages at FROM, keeping ARGs before the first FROM as global ones', () => {
    const plan = planStages(commands('ARG BASE=busybox\nFROM $BASE AS one\nRUN a\nFROM one\nRUN b\n'));
    expect(plan.metaArgs).toHaveLength(1);
    expect(plan.stages.map((stage) => [stage.name, stage.commands.length])).toEqual([
      ['one', 1],
      [undefined, 1],
    ]);
    expect(stagesUpTo(plan, 'ONE')).toHaveLength(1);
    expect(() => stagesUpTo(plan, 'nope')).toThrow('failed to reach build target nope');
  });

  it('refuses instructions before FROM other than ARG, and a Dockerfile without FROM', () => {
    expect(() => planStages(commands('RUN x\nFROM busybox\n'))).toThrow(/before the first FROM/);
    expect(() => planStages(commands('ARG A\n'))).toThrow(/no FROM/);
  });
});

describe(applyMetadata.name, () => {
  const apply = (text: string, defaults = {}, cmdSet = false) =>
    applyMetadata(commands(text)[0], defaults, variables(['HOME=/root'], new Map([['V', '1.2']])), '\\', cmdSet);

  it('sets ENV with the variables from before, and records it in the history text', () => {
    const change = apply('ENV A=$HOME/x B="v $V"', { Env: ['PATH=/bin'] });
    expect(change.defaults.Env).toEqual(['PATH=/bin', 'A=/root/x', 'B=v 1.2']);
    expect(change.text).toBe('ENV A=/root/x B=v 1.2');
  });

  it('makes shell-form CMD and ENTRYPOINT run through the shell, and ENTRYPOINT drop an inherited CMD', () => {
    expect(apply('CMD echo hi').defaults.Cmd).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(apply('ENTRYPOINT ["top"]', { Cmd: ['sh'] }).defaults).toMatchObject({ Entrypoint: ['top'], Cmd: null });
    expect(apply('ENTRYPOINT ["top"]', { Cmd: ['-b'] }, true).defaults.Cmd).toEqual(['-b']);
    expect(apply('CMD echo hi', { Shell: ['/bin/bash', '-c'] }).defaults.Cmd).toEqual(['/bin/bash', '-c', 'echo hi']);
  });

  it('sets EXPOSE, VOLUME, LABEL, USER, STOPSIGNAL and HEALTHCHECK', () => {
    expect(apply('EXPOSE 80 53/udp').defaults.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {} });
    expect(apply('VOLUME ["/data", "/logs"]').defaults.Volumes).toEqual({ '/data': {}, '/logs': {} });
    expect(apply('LABEL version=$V "a b"=c').defaults.Labels).toEqual({ version: '1.2', 'a b': 'c' });
    expect(apply('USER nobody:nogroup').defaults.User).toBe('nobody:nogroup');
    expect(apply('STOPSIGNAL SIGINT').defaults.StopSignal).toBe('SIGINT');
    expect(apply('HEALTHCHECK --interval=1m30s --retries=2 CMD true').defaults.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'true'],
      Interval: 90e9,
      Retries: 2,
    });
  });

  it('refuses a bad port and a bad duration', () => {
    expect(() => exposedPorts('eighty')).toThrow(/invalid containerPort/);
    expect(() => durationNanos('5 minutes', 'interval', 3)).toThrow(/not a duration/);
  });
});
