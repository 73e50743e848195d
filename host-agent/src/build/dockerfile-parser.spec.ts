import { describe, expect, it } from 'vitest';

import { parseDockerfile } from './dockerfile-parser.js';

describe(parseDockerfile.name, () => {
  it('reads one instruction per line, keywords in any case, comments and blank lines skipped', () => {
    const parsed = parseDockerfile('# a comment\n\nfrom busybox\n  RUN echo hi\n# another\nCMD ["sh"]\n');
    expect(parsed.instructions.map((instruction) => [instruction.keyword, instruction.args, instruction.line])).toEqual(
      [
        ['FROM', 'busybox', 3],
        ['RUN', 'echo hi', 4],
        ['CMD', '["sh"]', 6],
      ],
    );
    expect(parsed.escape).toBe('\\');
  });

  it('joins continued lines and drops comment lines inside them', () => {
    const parsed = parseDockerfile('FROM busybox\nRUN echo a \\\n# not part of it\n    && echo b \\\n\n  && echo c\n');
    expect(parsed.instructions[1].args).toBe('echo a && echo b && echo c');
    expect(parsed.instructions[1].line).toBe(2);
  });

  it('keeps an escaped escape at the end of a line literal', () => {
    const parsed = parseDockerfile('FROM busybox\nRUN echo a\\\\\nCMD x\n');
    expect(parsed.instructions.map((instruction) => instruction.keyword)).toEqual(['FROM', 'RUN', 'CMD']);
  });

  it('takes the escape directive from the top, making the backtick the continuation character', () => {
    const parsed = parseDockerfile('# escape=`\nFROM busybox\nRUN echo c:\\dir `\n  two\n');
    expect(parsed.escape).toBe('`');
    expect(parsed.instructions[1].args).toBe('echo c:\\dir two');
  });

  it('ignores a directive after the first instruction (it is a comment there)', () => {
    const parsed = parseDockerfile('FROM busybox\n# escape=`\nRUN echo a \\\n b\n');
    expect(parsed.escape).toBe('\\');
    expect(parsed.instructions[1].args).toBe('echo a b');
  });

  it('refuses an unknown instruction, naming it and its line', () => {
    expect(() => parseDockerfile('FROM busybox\nFROBNICATE now\n')).toThrow(
      'dockerfile parse error on line 2: unknown instruction: FROBNICATE',
    );
  });

  it('refuses an escape directive with another character', () => {
    expect(() => parseDockerfile('# escape=x\nFROM busybox\n')).toThrow(/invalid escape token/);
  });
});
