import { ENROL_PATH, enrolmentPayload, type EnrolRequest, type EnrolResponse, type ErrorBody } from '@skiff/protocol';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../logger.js';
import { Backoff, sleep as abortableSleep } from './backoff.js';
import type { HostKey } from './host-key.js';

/** The server said no (4xx): retrying with the same token cannot help. */
export class EnrolmentRefusedError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'EnrolmentRefusedError';
  }
}

/** The enrolment did not happen for another reason: server unreachable for too long, or a garbled answer. */
export class EnrolmentFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnrolmentFailedError';
  }
}

export type EnrolAnswer =
  | { kind: 'enrolled'; response: EnrolResponse }
  | { kind: 'refused'; status: number; message: string }
  | { kind: 'retry'; reason: string }
  | { kind: 'failed'; message: string };

export function buildEnrolRequest(key: HostKey, joinToken: string, name: string): EnrolRequest {
  const publicKey = key.publicKey;
  return { joinToken, publicKey, name, signature: key.sign(enrolmentPayload(joinToken, publicKey)) };
}

/** What an HTTP answer to the enrolment request means for the agent. `body` is the parsed JSON, if any. */
export function classifyEnrolAnswer(status: number, body: unknown): EnrolAnswer {
  if (status >= 200 && status < 300) {
    const response = asEnrolResponse(body);
    return response
      ? { kind: 'enrolled', response }
      : { kind: 'failed', message: `the server answered ${status} without a host id and name` };
  }
  const detail = errorBodyMessage(body) ?? `HTTP ${status}`;
  // 429 and 5xx say "not now", not "no".
  if (status === 429 || status >= 500) return { kind: 'retry', reason: `the server answered ${status}: ${detail}` };
  if (status >= 400) return { kind: 'refused', status, message: detail };
  return { kind: 'failed', message: `unexpected answer ${status} from the server` };
}

export interface EnrolOptions {
  serverUrl: string;
  joinToken: string;
  name: string;
  key: HostKey;
  logger: Logger;
  signal?: AbortSignal;
  /** Stop retrying network errors and 5xx after this long. */
  giveUpAfterMs?: number;
  requestTimeoutMs?: number;
  backoff?: Backoff;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<boolean>;
  now?: () => number;
}

export const ENROL_GIVE_UP_AFTER_MS = 5 * 60_000;

/**
 * Presents the join token once, proving possession of the key by signing it.
 * Throws EnrolmentRefusedError on 4xx, EnrolmentFailedError when giving up, the abort reason on abort.
 */
export async function enrol(options: EnrolOptions): Promise<EnrolResponse> {
  const {
    serverUrl,
    logger,
    signal,
    giveUpAfterMs = ENROL_GIVE_UP_AFTER_MS,
    backoff = new Backoff({ initialDelayMs: 1_000, maxDelayMs: 30_000, randomization: 0.5 }),
    sleep = abortableSleep,
    now = Date.now,
  } = options;
  const url = `${serverUrl}${ENROL_PATH}`;
  const body = JSON.stringify(buildEnrolRequest(options.key, options.joinToken, options.name));
  const deadline = now() + giveUpAfterMs;

  logger.info(`enrolling with ${serverUrl} as ${options.name}`);
  for (;;) {
    signal?.throwIfAborted();
    const answer = await attempt(url, body, options);
    switch (answer.kind) {
      case 'enrolled':
        return answer.response;
      case 'refused':
        throw new EnrolmentRefusedError(answer.message, answer.status);
      case 'failed':
        throw new EnrolmentFailedError(answer.message);
      case 'retry': {
        const waitMs = backoff.nextDelayMs();
        if (now() + waitMs > deadline) {
          throw new EnrolmentFailedError(
            `gave up after ${Math.round(giveUpAfterMs / 1000)}s of trying; last problem: ${answer.reason}`,
          );
        }
        logger.warn(
          `waiting for ${serverUrl} to accept the enrolment (${answer.reason}); retrying in ${seconds(waitMs)}`,
        );
        if (!(await sleep(waitMs, signal))) signal?.throwIfAborted();
        break;
      }
    }
  }
}

async function attempt(url: string, body: string, options: EnrolOptions): Promise<EnrolAnswer> {
  const { signal, requestTimeoutMs = 15_000, fetch: fetchFn = fetch } = options;
  const timeout = AbortSignal.timeout(requestTimeoutMs);
  let response: Response;
  let text: string;
  try {
    response = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    text = await response.text();
  } catch (error) {
    signal?.throwIfAborted();
    const reason = timeout.aborted ? `no answer within ${seconds(requestTimeoutMs)}` : errorMessage(error);
    return { kind: 'retry', reason: `cannot reach the server: ${reason}` };
  }
  return classifyEnrolAnswer(response.status, parseJson(text));
}

function asEnrolResponse(body: unknown): EnrolResponse | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { hostId, name } = body as Partial<Record<keyof EnrolResponse, unknown>>;
  if (typeof hostId !== 'string' || hostId === '' || typeof name !== 'string') return undefined;
  return { hostId, name };
}

function errorBodyMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { message } = body as Partial<Record<keyof ErrorBody, unknown>>;
  return typeof message === 'string' && message !== '' ? message : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function seconds(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}
