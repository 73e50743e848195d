import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** A bundle's VERSION: the package version and the bundle's content id, e.g. `0.1.0+3f2a1b4c5d6e`. */
const BUNDLE_VERSION = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]{1,64})?$/;

/**
 * The agent's version: in an agent bundle (`<bundle>/agent/dist/…`), the bundle's `VERSION` file,
 * so that the server sees which bundle a host runs; in a checkout, the host-agent package's version
 * (`../package.json` is the same file from `src/` and from `dist/`).
 */
export function agentVersion(): string {
  if (cached === undefined) cached = bundleVersion() ?? packageVersion();
  return cached;
}

function bundleVersion(): string | undefined {
  try {
    const text = readFileSync(new URL('../../VERSION', import.meta.url), 'utf8').trim();
    return BUNDLE_VERSION.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  if (typeof manifest.version !== 'string') throw new Error('host-agent package.json has no version');
  return manifest.version;
}
