/**
 * `key=value` lines (a volume's labels or driver options) → a map; blank lines are skipped, the
 * first line that is not a pair is named in the error, and the value keeps its `=` and spaces.
 */
export function parsePairs(text: string, what: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  text.split('\n').forEach((line, index) => {
    if (!line.trim()) return;
    const at = line.indexOf('=');
    if (at <= 0 || !line.slice(0, at).trim()) throw new Error(`${what}, line ${index + 1}: write key=value.`);
    pairs[line.slice(0, at).trim()] = line.slice(at + 1);
  });
  return pairs;
}
