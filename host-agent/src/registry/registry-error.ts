/**
 * Errors a registry answers with (the distribution spec's `{"errors":[{"code","message"}]}`),
 * told as dockerd tells them (`manifest unknown: manifest unknown`, `unauthorized: authentication
 * required`) and classified by kind: 401 unauthenticated, 403 forbidden, 404 not found, 429 too
 * many requests, 5xx unavailable, anything else invalid.
 */
import type { ErrorKind } from '@skiff/protocol';

import { EngineError } from '../engine-error.js';
import { readBody, type HttpResponse } from './registry-http.js';

export interface RegistryErrorDetail {
  code: string;
  message: string;
}

export class RegistryError extends EngineError {
  constructor(
    kind: ErrorKind,
    message: string,
    readonly status: number,
    readonly details: readonly RegistryErrorDetail[],
  ) {
    super(kind, message);
    this.name = 'RegistryError';
  }

  has(code: string): boolean {
    return this.details.some((detail) => detail.code === code);
  }
}

const MAX_ERROR_BODY = 64 * 1024;

export function kindOfStatus(status: number): ErrorKind {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 429) return 'too-many-requests';
  if (status >= 500) return 'unavailable';
  return 'invalid-argument';
}

/** `MANIFEST_UNKNOWN` → `manifest unknown`, as in distribution's errcode. */
function codeText(code: string): string {
  return code.toLowerCase().replaceAll('_', ' ');
}

/** Reads the answer's error body (if any) and makes the error, `context` first. */
export async function registryError(response: HttpResponse, context: string): Promise<RegistryError> {
  let details: RegistryErrorDetail[] = [];
  try {
    const body = response.body.readableEnded ? Buffer.alloc(0) : await readBody(response, MAX_ERROR_BODY, 'error');
    details = parseErrors(body);
  } catch {
    // An unreadable error body: the status says enough.
  }
  return errorFromDetails(response.status, details, context);
}

export function parseErrors(body: Buffer): RegistryErrorDetail[] {
  if (body.length === 0) return [];
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: unknown };
    if (!Array.isArray(parsed.errors)) return [];
    return parsed.errors
      .filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null)
      .map((item) => ({
        code: typeof item.code === 'string' ? item.code.slice(0, 100) : 'UNKNOWN',
        message: typeof item.message === 'string' ? item.message.slice(0, 500) : '',
      }));
  } catch {
    return [];
  }
}

export function errorFromDetails(status: number, details: RegistryErrorDetail[], context: string): RegistryError {
  const said =
    details.length > 0
      ? details.map((detail) => `${codeText(detail.code)}: ${detail.message || codeText(detail.code)}`).join(', ')
      : status === 401
        ? 'unauthorized: authentication required'
        : status === 404
          ? 'not found'
          : `the registry answered HTTP ${status}`;
  return new RegistryError(kindOfStatus(status), `${context}: ${said}`, status, details);
}
