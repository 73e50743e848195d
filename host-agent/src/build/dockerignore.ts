/**
 * `.dockerignore`: which files of the build context the build does not see. Patterns as Docker
 * reads them: one per line, `#` comments, paths relative to the context root (a leading `/` is
 * dropped), `*`, `?`, `[…]` within one path component, `**` across any number of them, `!` to
 * take a path back in; the last pattern that matches decides, and a pattern that matches a
 * directory also matches everything under it.
 */
import { posix } from 'node:path';

import { invalidArgument } from '../engine-error.js';

interface Pattern {
  exclusion: boolean;
  regex: RegExp;
}

export class DockerIgnore {
  private constructor(private readonly patterns: readonly Pattern[]) {}

  static parse(text: string): DockerIgnore {
    const patterns: Pattern[] = [];
    for (const rawLine of text.split(/\r?\n/)) {
      let line = rawLine.trim();
      if (line === '' || line.startsWith('#')) continue;
      let exclusion = false;
      if (line.startsWith('!')) {
        exclusion = true;
        line = line.slice(1).trim();
      }
      line = posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
      if (line === '' || line === '.') continue;
      patterns.push({ exclusion, regex: patternRegex(line) });
    }
    return new DockerIgnore(patterns);
  }

  static empty(): DockerIgnore {
    return new DockerIgnore([]);
  }

  /** Whether the context path (relative, `/`-separated, no leading `./`) is left out. */
  excludes(path: string): boolean {
    const clean = posix.normalize(path).replace(/^\/+/, '');
    // The path itself and each of its parents: a matched directory takes its contents with it.
    const candidates: string[] = [];
    const parts = clean.split('/');
    for (let i = 1; i <= parts.length; i++) candidates.push(parts.slice(0, i).join('/'));
    let excluded = false;
    for (const pattern of this.patterns) {
      if (candidates.some((candidate) => pattern.regex.test(candidate))) excluded = !pattern.exclusion;
    }
    return excluded;
  }

  /** True when some `!` pattern might bring back something under the directory. */
  hasExceptions(): boolean {
    return this.patterns.some((pattern) => pattern.exclusion);
  }
}

function patternRegex(pattern: string): RegExp {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // `**/` matches no directory or any number of them; a trailing `**` matches everything.
        if (pattern[i + 1] === '/') {
          i++;
          source += '(?:.*/)?';
        } else {
          source += '.*';
        }
      } else {
        source += '[^/]*';
      }
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw invalidArgument(`syntax error in .dockerignore pattern ${JSON.stringify(pattern)}`);
      let set = pattern.slice(i + 1, end);
      if (set.startsWith('^') || set.startsWith('!')) set = `^${set.slice(1)}`;
      source += `[${set.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (char === '\\' && i + 1 < pattern.length) {
      i++;
      source += escapeRegex(pattern[i]);
    } else {
      source += escapeRegex(char);
    }
  }
  return new RegExp(`${source}$`);
}

function escapeRegex(char: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(char) ? `\\${char}` : char;
}
