import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The version of the host-agent package; `../package.json` is the same file from `src/` and from `dist/`. */
export function agentVersion(): string {
  if (cached === undefined) {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    if (typeof manifest.version !== 'string') throw new Error('host-agent package.json has no version');
    cached = manifest.version;
  }
  return cached;
}
