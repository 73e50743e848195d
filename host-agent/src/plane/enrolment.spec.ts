import { ENROL_PATH, enrolmentPayload, type EnrolRequest } from '@skiff/protocol';
import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { Backoff } from './backoff.js';
import {
  EnrolmentFailedError,
  EnrolmentRefusedError,
  buildEnrolRequest,
  classifyEnrolAnswer,
  enrol,
  type EnrolOptions,
} from './enrolment.js';
import { HostKey } from './host-key.js';

function verifiesWith(publicKey: string, payload: Buffer, signature: string): boolean {
  const key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
  return verify(null, payload, key, Buffer.from(signature, 'base64'));
}

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A scripted server: answers the requests in order and records them. */
function scriptedServer(...answers: Array<Response | Error>) {
  const requests: Array<{ url: string; method: string | undefined; body: EnrolRequest }> = [];
  const fetch = (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const body = typeof init?.body === 'string' ? init.body : '';
    const target = url instanceof Request ? url.url : url.toString();
    requests.push({ url: target, method: init?.method, body: JSON.parse(body) as EnrolRequest });
    const answer = answers.shift();
    if (answer === undefined) return Promise.reject(new Error('the scripted server has no more answers'));
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  };
  return { fetch, requests };
}

/** A clock that only moves when the enrolment sleeps. */
function fakeTime() {
  let now = 0;
  const waits: number[] = [];
  return {
    waits,
    now: () => now,
    sleep: (ms: number): Promise<boolean> => {
      waits.push(ms);
      now += ms;
      return Promise.resolve(true);
    },
  };
}

function options(overrides: Partial<EnrolOptions>): { options: EnrolOptions; lines: string[] } {
  const lines: string[] = [];
  const time = fakeTime();
  return {
    lines,
    options: {
      serverUrl: 'https://skiff.test',
      joinToken: 'token-1',
      name: 'web-1',
      key: HostKey.generate(),
      logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
      backoff: new Backoff({ initialDelayMs: 1_000, maxDelayMs: 30_000, randomization: 0 }),
      now: time.now,
      sleep: time.sleep,
      ...overrides,
    },
  };
}

describe('enrol', () => {
  it('posts the join token, the public key, the name and a signature the public key verifies', async () => {
    const server = scriptedServer(json(201, { hostId: 'host-1', name: 'web-1' }));
    const key = HostKey.generate();

    const response = await enrol(options({ key, fetch: server.fetch }).options);

    expect(response).toEqual({ hostId: 'host-1', name: 'web-1' });
    const [request] = server.requests;
    expect(request).toMatchObject({
      url: `https://skiff.test${ENROL_PATH}`,
      method: 'POST',
      body: { joinToken: 'token-1', publicKey: key.publicKey, name: 'web-1' },
    });
    const signature = request?.body.signature ?? '';
    expect(verifiesWith(key.publicKey, enrolmentPayload('token-1', key.publicKey), signature)).toBe(true);
  });

  it('gives up at once when the server refuses the token, with its message', async () => {
    const server = scriptedServer(json(403, { kind: 'forbidden', message: 'join token expired' }));

    const attempt = enrol(options({ fetch: server.fetch }).options);

    await expect(attempt).rejects.toThrow(new EnrolmentRefusedError('join token expired', 403));
    expect(server.requests).toHaveLength(1);
  });

  it('retries with growing delays while the server is unreachable or failing, and says what it waits for', async () => {
    const time = fakeTime();
    const server = scriptedServer(
      new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:8080') }),
      json(503, { kind: 'unavailable', message: 'database starting' }),
      json(201, { hostId: 'host-1', name: 'web-1' }),
    );
    const { options: enrolOptions, lines } = options({ fetch: server.fetch, now: time.now, sleep: time.sleep });

    await expect(enrol(enrolOptions)).resolves.toEqual({ hostId: 'host-1', name: 'web-1' });

    expect(time.waits).toEqual([1_000, 2_000]);
    const output = lines.join('');
    expect(output).toContain('cannot reach the server: fetch failed: connect ECONNREFUSED 127.0.0.1:8080');
    expect(output).toContain('the server answered 503: database starting');
  });

  it('gives up retrying after the time limit', async () => {
    const time = fakeTime();
    const server = scriptedServer(...Array.from({ length: 20 }, () => json(502, {})));

    const attempt = enrol(
      options({ fetch: server.fetch, now: time.now, sleep: time.sleep, giveUpAfterMs: 10_000 }).options,
    );

    await expect(attempt).rejects.toThrow(EnrolmentFailedError);
    await expect(attempt).rejects.toThrow('last problem: the server answered 502: HTTP 502');
    expect(time.waits).toEqual([1_000, 2_000, 4_000]);
  });

  it('stops waiting when aborted', async () => {
    const controller = new AbortController();
    const server = scriptedServer(json(503, {}));
    const sleep = (): Promise<boolean> => {
      controller.abort();
      return Promise.resolve(false);
    };

    const attempt = enrol(options({ fetch: server.fetch, signal: controller.signal, sleep }).options);

    await expect(attempt).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe(classifyEnrolAnswer.name, () => {
  it.each([
    [201, { hostId: 'h', name: 'n' }, 'enrolled'],
    [201, { name: 'n' }, 'failed'],
    [400, { kind: 'invalid-argument', message: 'bad signature' }, 'refused'],
    [401, undefined, 'refused'],
    [429, { kind: 'too-many-requests', message: 'slow down' }, 'retry'],
    [500, undefined, 'retry'],
    [503, undefined, 'retry'],
  ])('treats %i %j as %s', (status, body, kind) => {
    expect(classifyEnrolAnswer(status, body).kind).toBe(kind);
  });

  it("uses the server's message for a refusal, else the status", () => {
    expect(classifyEnrolAnswer(409, { kind: 'conflict', message: 'join token already used' })).toEqual({
      kind: 'refused',
      status: 409,
      message: 'join token already used',
    });
    expect(classifyEnrolAnswer(404, 'not json')).toMatchObject({ message: 'HTTP 404' });
  });
});

describe(buildEnrolRequest.name, () => {
  it('signs exactly the protocol payload of the token and key', () => {
    const key = HostKey.generate();

    const request = buildEnrolRequest(key, 'token-9', 'db-1');

    expect(verifiesWith(request.publicKey, enrolmentPayload('token-9', request.publicKey), request.signature)).toBe(
      true,
    );
    expect(verifiesWith(request.publicKey, enrolmentPayload('token-8', request.publicKey), request.signature)).toBe(
      false,
    );
  });
});
