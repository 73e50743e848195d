import { invalidArgument } from '../errors/domain-error.js';

export const MAX_HOST_LABELS = 64;

// Kubernetes' label syntax, which Docker's reverse-DNS keys (com.example.tier) also fit: an optional
// DNS-subdomain prefix and "/", then a name of up to 63 characters; values up to 63 characters or empty.
const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Checks a host's (or a selector's) labels, naming the first that is wrong. */
export function parseLabels(value: unknown, what = 'labels'): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`${what} must be an object of label keys to string values`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_HOST_LABELS) {
    throw invalidArgument(`${what} may have at most ${MAX_HOST_LABELS} labels, not ${entries.length}`);
  }
  const labels: Record<string, string> = {};
  for (const [key, labelValue] of entries) {
    if (!isLabelKey(key)) {
      throw invalidArgument(
        `label key "${truncate(key)}" must be a name of 1-63 letters, digits, "-", "_" or "." (starting and ending ` +
          `with a letter or digit), optionally after a DNS prefix and "/", e.g. "env" or "example.com/tier"`,
      );
    }
    if (typeof labelValue !== 'string') throw invalidArgument(`label "${key}" must have a string value`);
    if (labelValue !== '' && !NAME.test(labelValue)) {
      throw invalidArgument(
        `value "${truncate(labelValue)}" of label "${key}" must be empty or 1-63 letters, digits, "-", "_" or "." ` +
          'starting and ending with a letter or digit',
      );
    }
    labels[key] = labelValue;
  }
  return labels;
}

function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && PREFIX.test(prefix) && NAME.test(key.slice(slash + 1));
}

const truncate = (text: string) => (text.length > 80 ? `${text.slice(0, 80)}…` : text);
