/**
 * `WWW-Authenticate` challenges (RFC 7235) as registries send them on a 401:
 * `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:app:pull"`
 * or `Basic realm="registry"`. A header may hold several challenges; parameter names are
 * case-insensitive, values are tokens or quoted strings with backslash escapes.
 */

export interface AuthChallenge {
  /** Lower case: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names in lower case. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
/** A token68 stands alone: `Negotiate abc==`, never `realm=x`. */
const TOKEN68 = /^([A-Za-z0-9\-._~+/]+=*)\s*(?=,|$)/;

export function parseAuthChallenges(header: string | readonly string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  const headers = typeof header === 'string' ? [header] : header;
  return headers.flatMap((value) => parseOne(value));
}

function parseOne(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let rest = header;
  let current: AuthChallenge | undefined;
  for (;;) {
    rest = rest.replace(/^[\s,]+/, '');
    const token = TOKEN.exec(rest)?.[0];
    if (token === undefined) break; // the end, or garbage: keep what was understood
    const after = rest.slice(token.length);
    const equals = /^\s*=\s*/.exec(after);
    if (current !== undefined && equals !== null) {
      const value = readValue(after.slice(equals[0].length));
      if (value === undefined) break;
      current.params[token.toLowerCase()] = value.value;
      rest = value.rest;
      continue;
    }
    current = { scheme: token.toLowerCase(), params: {} };
    challenges.push(current);
    rest = after.replace(/^\s+/, '');
    const token68 = TOKEN68.exec(rest);
    if (token68 !== null) {
      current.params.token68 = token68[1] ?? '';
      rest = rest.slice(token68[0].length);
    }
  }
  return challenges;
}

function readValue(text: string): { value: string; rest: string } | undefined {
  if (text.startsWith('"')) {
    let value = '';
    for (let index = 1; index < text.length; index += 1) {
      const char = text[index];
      if (char === '\\' && index + 1 < text.length) {
        value += text[index + 1];
        index += 1;
      } else if (char === '"') {
        return { value, rest: text.slice(index + 1) };
      } else {
        value += char;
      }
    }
    return undefined;
  }
  const token = /^[^\s,]*/.exec(text)?.[0] ?? '';
  return { value: token, rest: text.slice(token.length) };
}

/** The first challenge of a scheme, e.g. `bearer`. */
export function findChallenge(challenges: readonly AuthChallenge[], scheme: string): AuthChallenge | undefined {
  return challenges.find((challenge) => challenge.scheme === scheme);
}
