import { describe, expect, it } from 'vitest';

import { expandWord, expandWords, splitWords } from './shell-lexer.js';

const env: Record<string, string> = { NAME: 'world', EMPTY: '', PATH: '/bin' };
const lookup = (name: string): string | undefined => env[name];
const expand = (word: string): string => expandWord(word, lookup, '\\');

describe('shell lexer', () => {
  it('expands $VAR and ${VAR}, unset variables as nothing', () => {
    expect(expand('hello-$NAME')).toBe('hello-world');
    expect(expand('${NAME}s')).toBe('worlds');
    expect(expand('[$UNSET]')).toBe('[]');
    expect(expand('cost: $5 and $')).toBe('cost: $5 and $');
  });

  it('applies ${VAR:-word}, ${VAR-word}, ${VAR:+word} and ${VAR+word}', () => {
    expect(expand('${UNSET:-fallback}')).toBe('fallback');
    expect(expand('${EMPTY:-fallback}')).toBe('fallback');
    expect(expand('${EMPTY-fallback}')).toBe('');
    expect(expand('${NAME:-fallback}')).toBe('world');
    expect(expand('${NAME:+set}')).toBe('set');
    expect(expand('${EMPTY:+set}')).toBe('');
    expect(expand('${EMPTY+set}')).toBe('set');
    expect(expand('${UNSET:+set}')).toBe('');
    expect(expand('${UNSET:-$NAME/x}')).toBe('world/x');
  });

  it('fails on ${VAR:?message} when the variable is unset', () => {
    expect(() => expand('${UNSET:?must be given}')).toThrow('UNSET: must be given');
    expect(expand('${NAME:?must be given}')).toBe('world');
  });

  it('keeps single quotes literal, expands in double quotes, and honours the escape character', () => {
    expect(expand("'$NAME'")).toBe('$NAME');
    expect(expand('"$NAME and \\$NAME"')).toBe('world and $NAME');
    expect(expand('\\$NAME')).toBe('$NAME');
    expect(expandWord('`$NAME', lookup, '`')).toBe('$NAME');
  });

  it('splits words at blanks outside quotes', () => {
    expect(splitWords('a "b c" \'d e\' f\\ g', '\\')).toEqual(['a', '"b c"', "'d e'", 'f\\ g']);
    expect(expandWords('a "b c" f\\ g $NAME', lookup, '\\')).toEqual(['a', 'b c', 'f g', 'world']);
  });

  it('refuses an unterminated quote and an unknown modifier', () => {
    expect(() => expand('"open')).toThrow(/double-quote/);
    expect(() => expand('${NAME%x}')).toThrow(/unsupported modifier/);
  });
});
