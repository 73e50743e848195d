/**
 * What the audit log keeps of a request body: its shape, readable but bounded, with secrets
 * replaced by {@link REDACTED}. A value is secret when its key looks like one (`password`,
 * `X-Registry-Auth`, `identitytoken`, …), and so is the value of a Docker `Env` entry
 * (`NAME=value`) whose name looks like one (`DB_PASSWORD`, `GITHUB_TOKEN`, `API_KEY`, …).
 * URLs keep their user but lose their password (`postgres://app:[redacted]@db/app`).
 */

export const REDACTED = '[redacted]';

export const SUMMARY_LIMITS = {
  /** Objects and arrays nested deeper than this are replaced by a note. */
  depth: 4,
  /** Characters kept of a string. */
  string: 200,
  /** Items kept of an array. */
  items: 20,
  /** Characters of JSON, roughly, for the whole summary. */
  total: 4096,
} as const;

/** Substrings of a key, lowercased with separators removed, that mark its value as secret. */
const SECRET_KEY_PARTS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'credential',
  'privatekey',
  'authorization',
  'cookie',
];

/** Whole words of a key that mark its value as secret (`X-Registry-Auth`, `AuthConfig`, `db_pwd`, `SigningCAKey`). */
const SECRET_KEY_WORDS = new Set(['auth', 'pwd', 'pass', 'key']);

/** Substrings of an environment variable's name, lowercased, that mark its value as secret. */
const SECRET_ENV_PARTS = [
  'pass',
  'pwd',
  'secret',
  'token',
  'key',
  'auth',
  'cred',
  'private',
  'cookie',
  'session',
  'salt',
];

export function isSecretKey(key: string): boolean {
  const squashed = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (SECRET_KEY_PARTS.some((part) => squashed.includes(part))) return true;
  return words(key).some((word) => SECRET_KEY_WORDS.has(word));
}

export function isSecretEnvName(name: string): boolean {
  const lower = name.toLowerCase();
  return SECRET_ENV_PARTS.some((part) => lower.includes(part));
}

/** The audit log's summary of a request body (JSON value); see the module's comment. */
export function summariseBody(body: unknown): unknown {
  return summarise(body, 1, { left: SUMMARY_LIMITS.total });
}

interface Budget {
  left: number;
}

function summarise(value: unknown, depth: number, budget: Budget, envArray = false): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return summariseString(envArray ? redactEnvEntry(value) : value, budget);
  if (typeof value === 'number') return spend(budget, Number.isFinite(value) ? value : String(value));
  if (typeof value === 'boolean') return spend(budget, value);
  if (typeof value === 'bigint') return summariseString(value.toString(), budget);
  if (value instanceof Date) return summariseString(value.toISOString(), budget);
  if (Buffer.isBuffer(value)) return spend(budget, `[${value.length} bytes]`);
  if (typeof value !== 'object') return spend(budget, `[${typeof value}]`);

  if (Array.isArray(value)) {
    if (depth > SUMMARY_LIMITS.depth) return spend(budget, `[array of ${value.length}]`);
    budget.left -= 2;
    const items: unknown[] = [];
    for (const item of value) {
      if (items.length === SUMMARY_LIMITS.items || budget.left <= 0) {
        items.push(`[${value.length - items.length} more]`);
        break;
      }
      items.push(summarise(item, depth + 1, budget, envArray));
      budget.left -= 1;
    }
    return items;
  }

  const entries = Object.entries(value as Record<string, unknown>).filter(([, member]) => member !== undefined);
  if (depth > SUMMARY_LIMITS.depth) return spend(budget, `[object of ${entries.length} keys]`);
  budget.left -= 2;
  const summary: Record<string, unknown> = {};
  let kept = 0;
  for (const [key, member] of entries) {
    if (budget.left <= 0) {
      summary['…'] = `${entries.length - kept} more keys`;
      break;
    }
    const shownKey = key.length > SUMMARY_LIMITS.string ? `${key.slice(0, SUMMARY_LIMITS.string)}…` : key;
    budget.left -= shownKey.length + 4;
    summary[shownKey] = isSecretKey(key)
      ? spend(budget, REDACTED)
      : summarise(member, depth + 1, budget, key.toLowerCase() === 'env' && Array.isArray(member));
    kept += 1;
  }
  return summary;
}

function summariseString(value: string, budget: Budget): string {
  const clean = redactUrlPasswords(value);
  const limit = Math.max(16, Math.min(SUMMARY_LIMITS.string, budget.left));
  const shown = clean.length > limit ? `${clean.slice(0, limit)}… (${clean.length} characters)` : clean;
  return spend(budget, shown);
}

function spend<T>(budget: Budget, value: T): T {
  budget.left -= typeof value === 'string' ? value.length + 2 : String(value).length;
  return value;
}

/** `NAME=value` with the value redacted when the name looks secret. */
export function redactEnvEntry(entry: string): string {
  const equals = entry.indexOf('=');
  if (equals <= 0) return entry;
  return isSecretEnvName(entry.slice(0, equals)) ? `${entry.slice(0, equals)}=${REDACTED}` : entry;
}

/** `scheme://user:password@host` → `scheme://user:[redacted]@host`. */
export function redactUrlPasswords(value: string): string {
  return value.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]*@/gi, `$1${REDACTED}@`);
}

/** A key's words: split at separators and where a lowercase letter or digit meets a capital. */
function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '');
}
