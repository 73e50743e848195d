/**
 * The word rules of Dockerfile arguments, as Docker's shell lexer has them: words split at blanks
 * outside quotes, single quotes literal, double quotes with `$` expansion, the escape character
 * quoting the next character, and variables `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`,
 * `${VAR:+word}`, `${VAR+word}`, `${VAR:?message}` and `${VAR?message}`. No command substitution,
 * no globbing: the builder never runs a shell of its own.
 */
import { invalidArgument } from '../engine-error.js';

/** Looks a variable up; undefined when it is not set. */
export type VariableLookup = (name: string) => string | undefined;

/** Splits at blanks outside quotes; quotes and escapes stay in the words (for `expandWord`). */
export function splitWords(text: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quote === undefined && /\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    word += char;
    if (char === escape && quote !== "'" && i + 1 < text.length) {
      word += text[i + 1];
      i++;
      continue;
    }
    if (quote === undefined && (char === '"' || char === "'")) quote = char;
    else if (quote === char) quote = undefined;
  }
  if (inWord) words.push(word);
  return words;
}

/** One word with its quotes removed and its variables expanded. */
export function expandWord(word: string, lookup: VariableLookup, escape: string): string {
  return new Expander(word, lookup, escape).all();
}

/** Splits and expands: each word as `expandWord` makes it. */
export function expandWords(text: string, lookup: VariableLookup, escape: string): string[] {
  return splitWords(text, escape).map((word) => expandWord(word, lookup, escape));
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

class Expander {
  private position = 0;

  constructor(
    private readonly text: string,
    private readonly lookup: VariableLookup,
    private readonly escape: string,
  ) {}

  all(): string {
    return this.until(() => false);
  }

  /** Reads until `stop` says so at the current position (outside quotes), or the end. */
  private until(stop: (char: string) => boolean): string {
    let out = '';
    while (this.position < this.text.length) {
      const char = this.text[this.position];
      if (stop(char)) break;
      if (char === this.escape) {
        this.position++;
        if (this.position < this.text.length) out += this.text[this.position++];
        continue;
      }
      if (char === "'") {
        out += this.singleQuoted();
        continue;
      }
      if (char === '"') {
        out += this.doubleQuoted();
        continue;
      }
      if (char === '$') {
        out += this.variable();
        continue;
      }
      out += char;
      this.position++;
    }
    return out;
  }

  private singleQuoted(): string {
    const end = this.text.indexOf("'", this.position + 1);
    if (end < 0) throw invalidArgument(`unexpected end of statement while looking for matching single-quote`);
    const out = this.text.slice(this.position + 1, end);
    this.position = end + 1;
    return out;
  }

  private doubleQuoted(): string {
    this.position++;
    let out = '';
    while (this.position < this.text.length) {
      const char = this.text[this.position];
      if (char === '"') {
        this.position++;
        return out;
      }
      if (char === this.escape) {
        const next = this.text[this.position + 1];
        // Inside double quotes the escape only quotes `"`, `$` and itself, as in sh.
        if (next === '"' || next === '$' || next === this.escape) {
          out += next;
          this.position += 2;
          continue;
        }
        out += char;
        this.position++;
        continue;
      }
      if (char === '$') {
        out += this.variable();
        continue;
      }
      out += char;
      this.position++;
    }
    throw invalidArgument('unexpected end of statement while looking for matching double-quote');
  }

  /** At a `$`: a variable, or a literal `$` when no name follows. */
  private variable(): string {
    this.position++;
    const char = this.text[this.position];
    if (char === '{') return this.braced();
    if (char === undefined || !NAME_START.test(char)) return '$';
    let name = '';
    while (this.position < this.text.length && NAME_CHAR.test(this.text[this.position])) {
      name += this.text[this.position++];
    }
    return this.lookup(name) ?? '';
  }

  private braced(): string {
    this.position++;
    let name = '';
    while (this.position < this.text.length && NAME_CHAR.test(this.text[this.position])) {
      name += this.text[this.position++];
    }
    if (name === '') throw invalidArgument(`bad substitution in ${this.text}: a variable name must follow \${`);
    const value = this.lookup(name);
    const char = this.text[this.position];
    if (char === '}') {
      this.position++;
      return value ?? '';
    }
    let colon = false;
    let operator = char;
    if (char === ':') {
      colon = true;
      operator = this.text[this.position + 1];
      this.position++;
    }
    if (operator !== '-' && operator !== '+' && operator !== '?') {
      throw invalidArgument(`unsupported modifier (${operator ?? 'end'}) in substitution: ${this.text}`);
    }
    this.position++;
    const word = this.until((c) => c === '}');
    if (this.text[this.position] !== '}') throw invalidArgument(`missing '}' in substitution: ${this.text}`);
    this.position++;
    const isSet = colon ? value !== undefined && value !== '' : value !== undefined;
    switch (operator) {
      case '-':
        return isSet ? (value ?? '') : word;
      case '+':
        return isSet ? word : '';
      default:
        if (!isSet) throw invalidArgument(`${name}: ${word || 'is not allowed to be unset'}`);
        return value ?? '';
    }
  }
}
