import { describe, expect, it } from 'vitest';

import { toCommands } from './dockerfile-instructions.js';
import { parseDockerfile } from './dockerfile-parser.js';

const commands = (text: string) => {
  const parsed = parseDockerfile(text);
  return toCommands(parsed.instructions, parsed.escape);
};

describe(toCommands.name, () => {
  it('reads FROM with a stage name and a platform', () => {
    expect(commands('FROM --platform=linux/amd64 busybox AS Build\n')[0]).toMatchObject({
      kind: 'FROM',
      image: 'busybox',
      stageName: 'build',
      platform: 'linux/amd64',
    });
  });

  it('tells exec form from shell form, falling back to shell form for broken JSON', () => {
    const [run, cmd, entrypoint] = commands('RUN ["echo", "hi"]\nCMD echo $HOME\nENTRYPOINT [not json\n');
    expect(run).toMatchObject({ kind: 'RUN', form: { exec: ['echo', 'hi'] } });
    expect(cmd).toMatchObject({ kind: 'CMD', form: { shell: 'echo $HOME' } });
    expect(entrypoint).toMatchObject({ kind: 'ENTRYPOINT', form: { shell: '[not json' } });
  });

  it('reads COPY flags, sources and destination', () => {
    expect(commands('COPY --from=build --chown=1000:1000 --chmod=640 a b /dst/\n')[0]).toMatchObject({
      kind: 'COPY',
      from: 'build',
      chown: '1000:1000',
      chmod: '640',
      sources: ['a', 'b'],
      destination: '/dst/',
    });
  });

  it('reads ENV and LABEL pairs in both forms', () => {
    expect(commands('ENV A=1 B="two words"\n')[0]).toMatchObject({
      pairs: [
        { key: 'A', value: '1' },
        { key: 'B', value: '"two words"' },
      ],
    });
    expect(commands('ENV GREETING hello there\n')[0]).toMatchObject({
      pairs: [{ key: 'GREETING', value: 'hello there' }],
    });
  });

  it('reads ARG names with and without defaults', () => {
    expect(commands('ARG A\nARG B=x\n').map((command) => command.kind === 'ARG' && command.args)).toEqual([
      [{ name: 'A' }],
      [{ name: 'B', defaultValue: 'x' }],
    ]);
  });

  it('reads HEALTHCHECK NONE and CMD with options', () => {
    const [none, check] = commands('HEALTHCHECK NONE\nHEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost\n');
    expect(none).toMatchObject({ kind: 'HEALTHCHECK', test: 'NONE' });
    expect(check).toMatchObject({
      kind: 'HEALTHCHECK',
      test: { shell: 'wget -q localhost' },
      options: { interval: '5s', retries: '3' },
    });
  });

  it('refuses wrong argument counts and BuildKit-only flags with the line', () => {
    expect(() => commands('FROM a b\n')).toThrow('line 1: FROM requires either one or three arguments');
    expect(() => commands('COPY only\n')).toThrow(/COPY requires at least two arguments/);
    expect(() => commands('RUN --mount=type=cache,target=/x make\n')).toThrow(/requires BuildKit/);
    expect(() => commands('SHELL sh -c\n')).toThrow(/JSON form/);
    expect(() => commands('ENV A=1 B\n')).toThrow(/can't find =/);
  });
});
