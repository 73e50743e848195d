/**
 * Reads a Dockerfile into its instructions, as the Docker builder's parser does: parser
 * directives at the top (`# escape=` and the ignored `# syntax=` and `# check=`), comment lines,
 * blank lines, and lines joined by the escape character at their end. Comment lines inside a
 * continued instruction are dropped, as Docker drops them. What each instruction's arguments
 * mean is decided later (dockerfile-instructions.ts).
 */
import { invalidArgument } from '../engine-error.js';

export const INSTRUCTIONS = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
] as const;

export type Keyword = (typeof INSTRUCTIONS)[number];

export interface RawInstruction {
  keyword: Keyword;
  /** Everything after the keyword, continuations joined, surrounding blanks trimmed. */
  args: string;
  /** The 1-based line the instruction starts on. */
  line: number;
  /** The instruction as written (keyword as written, continuations joined), for the build output. */
  original: string;
}

export interface ParsedDockerfile {
  /** `\` unless `# escape=`` ` `` says otherwise. */
  escape: '\\' | '`';
  instructions: RawInstruction[];
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escape: '\\' | '`' = '\\';
  let index = 0;
  // Directives: only at the very top, each once, until the first line that is not one.
  const seen = new Set<string>();
  for (; index < lines.length; index++) {
    const match = DIRECTIVE.exec(lines[index].trim());
    if (match === null) break;
    const name = match[1].toLowerCase();
    if (name !== 'escape' && name !== 'syntax' && name !== 'check') break;
    if (seen.has(name)) throw parseError(index + 1, `only one ${name} parser directive can be used`);
    seen.add(name);
    if (name === 'escape') {
      if (match[2] !== '\\' && match[2] !== '`') {
        throw parseError(index + 1, `invalid escape token '${match[2]}' does not match \` or \\`);
      }
      escape = match[2];
    }
  }

  const instructions: RawInstruction[] = [];
  while (index < lines.length) {
    const startLine = index + 1;
    const first = lines[index].trim();
    index++;
    if (first === '' || first.startsWith('#')) continue;
    let text = first;
    // A line whose last non-blank character is the escape continues on the next line.
    while (endsWithEscape(text, escape)) {
      text = text.replace(/\s*$/, '').slice(0, -1);
      let next: string | undefined;
      while (index < lines.length) {
        const candidate = lines[index];
        index++;
        const trimmed = candidate.trim();
        if (trimmed.startsWith('#') || trimmed === '') continue;
        next = candidate.replace(/^\s+/, '');
        break;
      }
      if (next === undefined) break;
      text += next;
    }
    text = text.trim();
    const match = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text);
    if (match === null) continue;
    const keyword = match[1].toUpperCase();
    if (!(INSTRUCTIONS as readonly string[]).includes(keyword)) {
      throw parseError(startLine, `unknown instruction: ${match[1]}`);
    }
    instructions.push({ keyword: keyword as Keyword, args: (match[2] ?? '').trim(), line: startLine, original: text });
  }
  return { escape, instructions };
}

function endsWithEscape(text: string, escape: string): boolean {
  const trimmed = text.replace(/\s+$/, '');
  if (!trimmed.endsWith(escape)) return false;
  // An escaped escape (`\\` at the end) is a literal, not a continuation.
  let count = 0;
  for (let i = trimmed.length - 1; i >= 0 && trimmed[i] === escape; i--) count++;
  return count % 2 === 1;
}

export function parseError(line: number, message: string): Error {
  return invalidArgument(`dockerfile parse error on line ${line}: ${message}`);
}
