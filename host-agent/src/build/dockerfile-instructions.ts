/**
 * What each Dockerfile instruction says, checked before the build starts: its flags, its exec or
 * shell form, its name=value pairs. Variables are not expanded here (their values depend on the
 * steps before), only the words are found; `image-builder.ts` expands them as it goes.
 */
import { parseError, type RawInstruction } from './dockerfile-parser.js';
import { splitWords } from './shell-lexer.js';

/** `["executable", "arg"]` (exec form) or a command line for the shell (shell form). */
export type CommandForm = { exec: string[] } | { shell: string };

export interface HealthcheckOptions {
  interval?: string;
  timeout?: string;
  startPeriod?: string;
  startInterval?: string;
  retries?: string;
}

interface Base {
  line: number;
  /** The instruction as written, for `Step n/m : …`. */
  original: string;
}

export type Command = Base &
  (
    | { kind: 'FROM'; image: string; stageName?: string; platform?: string }
    | { kind: 'RUN'; form: CommandForm }
    | { kind: 'CMD' | 'ENTRYPOINT'; form: CommandForm }
    | {
        kind: 'COPY' | 'ADD';
        /** Raw words (expanded at build time); the last word of the instruction is `destination`. */
        sources: string[];
        destination: string;
        from?: string;
        chown?: string;
        chmod?: string;
      }
    | { kind: 'ENV' | 'LABEL'; pairs: { key: string; value: string }[] }
    | { kind: 'ARG'; args: { name: string; defaultValue?: string }[] }
    | { kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER'; value: string }
    | { kind: 'EXPOSE' | 'VOLUME'; values: string[]; json: boolean }
    | { kind: 'SHELL'; shell: string[] }
    | { kind: 'HEALTHCHECK'; test: CommandForm | 'NONE'; options: HealthcheckOptions }
    | { kind: 'ONBUILD'; trigger: string }
  );

export type CommandKind = Command['kind'];

/** Turns the parser's instructions into commands; the first error names its line. */
export function toCommands(instructions: readonly RawInstruction[], escape: string): Command[] {
  return instructions.map((instruction) => toCommand(instruction, escape));
}

export function toCommand(instruction: RawInstruction, escape: string): Command {
  const { keyword, line, original } = instruction;
  const base = { line, original };
  const fail = (message: string): Error => parseError(line, message);
  const { flags, rest } = leadingFlags(instruction.args, escape);
  const allow = (...names: string[]): void => {
    for (const name of flags.keys()) {
      if (!names.includes(name)) {
        throw fail(
          name === 'mount' || name === 'network' || name === 'security' || name === 'link' || name === 'parents'
            ? `the --${name} option of ${keyword} requires BuildKit, which this engine does not have`
            : `unknown flag: --${name} for ${keyword}`,
        );
      }
    }
  };
  switch (keyword) {
    case 'FROM': {
      allow('platform');
      const words = splitWords(rest, escape);
      if (words.length === 3 && words[1].toLowerCase() === 'as') {
        if (!/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(words[2])) {
          throw fail(`invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
        }
        return { ...base, kind: 'FROM', image: words[0], stageName: words[2].toLowerCase(), ...platform(flags) };
      }
      if (words.length !== 1) throw fail('FROM requires either one or three arguments');
      return { ...base, kind: 'FROM', image: words[0], ...platform(flags) };
    }
    case 'RUN':
      allow();
      if (rest === '') throw fail('RUN requires at least one argument');
      return { ...base, kind: 'RUN', form: commandForm(rest) };
    case 'CMD':
    case 'ENTRYPOINT':
      if (instruction.args === '') throw fail(`${keyword} requires at least one argument`);
      return { ...base, kind: keyword, form: commandForm(instruction.args) };
    case 'COPY':
    case 'ADD': {
      allow(...(keyword === 'COPY' ? ['from', 'chown', 'chmod'] : ['chown', 'chmod']));
      const json = jsonStrings(rest);
      const words = json ?? splitWords(rest, escape);
      if (words.length < 2) throw fail(`${keyword} requires at least two arguments, but only one was provided`);
      const from = flags.get('from');
      const chown = flags.get('chown');
      const chmod = flags.get('chmod');
      if (from === '') throw fail('--from requires the name or index of a stage, or an image');
      if (chmod !== undefined && !/^[0-7]{3,4}$/.test(chmod)) throw fail(`invalid --chmod=${chmod}: use octal digits`);
      return {
        ...base,
        kind: keyword,
        // Exec-form words are taken literally but still expanded, as Docker does.
        sources: words.slice(0, -1).map((word) => (json ? quoteLiteral(word, escape) : word)),
        destination: json ? quoteLiteral(words[words.length - 1], escape) : words[words.length - 1],
        ...(from === undefined ? {} : { from }),
        ...(chown === undefined || chown === '' ? {} : { chown }),
        ...(chmod === undefined ? {} : { chmod }),
      };
    }
    case 'ENV':
    case 'LABEL':
      allow();
      return { ...base, kind: keyword, pairs: nameValuePairs(keyword, rest, escape, line) };
    case 'ARG': {
      allow();
      const words = splitWords(rest, escape);
      if (words.length === 0) throw fail('ARG requires exactly one argument');
      return {
        ...base,
        kind: 'ARG',
        args: words.map((word) => {
          const equals = word.indexOf('=');
          const name = equals < 0 ? word : word.slice(0, equals);
          if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw fail(`invalid ARG name: ${JSON.stringify(name)}`);
          return equals < 0 ? { name } : { name, defaultValue: word.slice(equals + 1) };
        }),
      };
    }
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
    case 'MAINTAINER':
      allow();
      if (rest === '') throw fail(`${keyword} requires exactly one argument`);
      return { ...base, kind: keyword, value: rest };
    case 'EXPOSE':
    case 'VOLUME': {
      allow();
      const json = keyword === 'VOLUME' ? jsonStrings(rest) : undefined;
      const values = json ?? splitWords(rest, escape);
      if (values.length === 0 || values.some((value) => value.trim() === '')) {
        throw fail(`${keyword} requires at least one argument`);
      }
      return { ...base, kind: keyword, values, json: json !== undefined };
    }
    case 'SHELL': {
      allow();
      const shell = jsonStrings(rest);
      if (shell === undefined || shell.length === 0) throw fail('SHELL requires the arguments to be in JSON form');
      return { ...base, kind: 'SHELL', shell };
    }
    case 'HEALTHCHECK': {
      allow('interval', 'timeout', 'start-period', 'start-interval', 'retries');
      const options: HealthcheckOptions = {};
      const set = (flag: string, key: keyof HealthcheckOptions): void => {
        const value = flags.get(flag);
        if (value !== undefined) options[key] = value;
      };
      set('interval', 'interval');
      set('timeout', 'timeout');
      set('start-period', 'startPeriod');
      set('start-interval', 'startInterval');
      set('retries', 'retries');
      const match = /^(\S+)(?:\s+([\s\S]*))?$/.exec(rest);
      const type = match?.[1].toUpperCase();
      if (type === 'NONE') {
        if ((match?.[2] ?? '') !== '' || flags.size > 0) throw fail('HEALTHCHECK NONE takes no arguments');
        return { ...base, kind: 'HEALTHCHECK', test: 'NONE', options };
      }
      if (type !== 'CMD' || (match?.[2] ?? '') === '') throw fail('HEALTHCHECK requires NONE, or CMD and a command');
      return { ...base, kind: 'HEALTHCHECK', test: commandForm(match?.[2] ?? ''), options };
    }
    case 'ONBUILD': {
      const trigger = instruction.args;
      const first = /^\S+/.exec(trigger)?.[0].toUpperCase();
      if (first === undefined) throw fail('ONBUILD requires at least one argument');
      if (first === 'ONBUILD') throw fail("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (first === 'FROM' || first === 'MAINTAINER') throw fail(`${first} isn't allowed as an ONBUILD trigger`);
      return { ...base, kind: 'ONBUILD', trigger };
    }
  }
}

function platform(flags: ReadonlyMap<string, string>): { platform?: string } {
  const value = flags.get('platform');
  return value === undefined ? {} : { platform: value };
}

/** `--name=value` and `--name` words at the start of the arguments. */
function leadingFlags(args: string, escape: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = args;
  for (;;) {
    const match = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(rest);
    if (match === null) break;
    const [word] = splitWords(rest, escape);
    const equals = word.indexOf('=');
    flags.set(match[1], equals < 0 ? '' : unquote(word.slice(equals + 1)));
    rest = rest.slice(rest.indexOf(word) + word.length).trimStart();
  }
  return { flags, rest };
}

function unquote(text: string): string {
  if (text.length >= 2 && (text[0] === '"' || text[0] === "'") && text.endsWith(text[0])) return text.slice(1, -1);
  return text;
}

/** Exec form when the text is a JSON list of strings; otherwise shell form, as Docker decides. */
export function commandForm(text: string): CommandForm {
  const exec = jsonStrings(text);
  return exec === undefined ? { shell: text } : { exec };
}

function jsonStrings(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  } catch {
    // Not JSON: the shell form, as Docker falls back to it.
  }
  return undefined;
}

/** A JSON word quoted so that expansion keeps it as it is apart from its variables. */
function quoteLiteral(word: string, escape: string): string {
  return `"${word.replace(/["\\`]/g, (char) => (char === '"' || char === escape ? `${escape}${char}` : char))}"`;
}

function nameValuePairs(
  keyword: 'ENV' | 'LABEL',
  text: string,
  escape: string,
  line: number,
): { key: string; value: string }[] {
  const words = splitWords(text, escape);
  if (words.length === 0) throw parseError(line, `${keyword} requires at least one argument`);
  if (!words[0].includes('=')) {
    // The old form: `ENV NAME value with blanks`.
    if (words.length < 2) throw parseError(line, `${keyword} must have two arguments`);
    const value = text.slice(text.indexOf(words[0]) + words[0].length).trim();
    return [{ key: words[0], value }];
  }
  return words.map((word) => {
    const equals = word.indexOf('=');
    if (equals <= 0) {
      throw parseError(line, `syntax error - can't find = in "${word}": must be of the form name=value`);
    }
    return { key: word.slice(0, equals), value: word.slice(equals + 1) };
  });
}
