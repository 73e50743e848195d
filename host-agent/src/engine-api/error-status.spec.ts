import { ERROR_KINDS } from '@skiff/protocol';
import { describe, expect, it } from 'vitest';
import { EngineError, conflict, invalidArgument, notFound } from '../engine-error.js';
import { createLogger } from '../logger.js';
import { errorAnswer, statusOfErrorKind } from './error-status.js';

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }) };
}

describe(statusOfErrorKind.name, () => {
  it('maps each kind to the status dockerd uses for it', () => {
    expect(Object.fromEntries(ERROR_KINDS.map((kind) => [kind, statusOfErrorKind(kind)]))).toEqual({
      'invalid-argument': 400,
      unauthenticated: 401,
      forbidden: 403,
      'not-found': 404,
      conflict: 409,
      'too-many-requests': 429,
      unavailable: 503,
      internal: 500,
    });
  });
});

describe(errorAnswer.name, () => {
  it('answers an engine error with its own message under its status', () => {
    const { logger, lines } = capture();

    expect(errorAnswer(notFound('no such container: web-1'), logger, 'GET /x')).toEqual({
      status: 404,
      body: { message: 'no such container: web-1' },
    });
    expect(errorAnswer(conflict('container web-1 is running'), logger, 'x').status).toBe(409);
    expect(errorAnswer(invalidArgument('bad'), logger, 'x').status).toBe(400);
    expect(lines).toEqual([]);
  });

  it('hides an unknown error behind a correlation id and logs it in full', () => {
    const { logger, lines } = capture();
    const failure = new Error("EACCES: permission denied, open '/var/lib/skiff/secret'");

    const answer = errorAnswer(failure, logger, 'POST /containers/create');

    expect(answer.status).toBe(500);
    expect(answer.body.message).toMatch(/^internal error \(correlation id [0-9a-f]{12}\)$/);
    expect(answer.body.message).not.toContain('/var/lib/skiff');
    const id = /correlation id ([0-9a-f]+)/.exec(answer.body.message)![1];
    expect(lines.join('')).toContain(id);
    expect(lines.join('')).toContain('/var/lib/skiff/secret');
    expect(lines.join('')).toContain('POST /containers/create');
  });

  it('treats a thrown non-Error as unknown', () => {
    const { logger } = capture();

    expect(errorAnswer('boom', logger, 'x')).toMatchObject({ status: 500 });
  });

  it('logs an internal engine error but still says its message', () => {
    const { logger, lines } = capture();

    const answer = errorAnswer(new EngineError('internal', 'cannot mount the rootfs of web-1'), logger, 'x');

    expect(answer).toEqual({ status: 500, body: { message: 'cannot mount the rootfs of web-1' } });
    expect(lines).toHaveLength(1);
  });
});
