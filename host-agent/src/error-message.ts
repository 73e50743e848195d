import { inspect } from 'node:util';

/**
 * A one-line description of anything thrown. Follows `cause`, because fetch reports every network
 * failure as "fetch failed" and keeps the useful part (ECONNREFUSED, ENOTFOUND, …) in its cause.
 */
export function errorMessage(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth += 1) {
    const message =
      current instanceof Error ? current.message : typeof current === 'string' ? current : inspect(current);
    if (message !== '' && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.length > 0 ? parts.join(': ') : 'unknown error';
}
