import { BadRequestException, NotFoundException } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { AllExceptionsFilter } from './all-exceptions.filter.js';
import { conflict, DomainError, tooManyRequests } from './domain-error.js';
import { httpStatusOf } from './error-status.js';

describe(AllExceptionsFilter.name, () => {
  const filter = new AllExceptionsFilter();

  it('answers a domain error with the status of its kind and its own message', () => {
    expect(filter.toAnswer(conflict('host web-1 is already enrolled'))).toEqual({
      status: 409,
      body: { kind: 'conflict', message: 'host web-1 is already enrolled' },
    });
    expect(filter.toAnswer(tooManyRequests('slow down')).status).toBe(429);
  });

  it('joins validation messages into one readable sentence', () => {
    const answer = filter.toAnswer(new BadRequestException(['name must be a string', 'password should not be empty']));
    expect(answer).toEqual({
      status: 400,
      body: { kind: 'invalid-argument', message: 'name must be a string; password should not be empty' },
    });
  });

  it('keeps the status of framework errors such as an unknown route', () => {
    expect(filter.toAnswer(new NotFoundException('Cannot GET /api/nope')).body).toEqual({
      kind: 'not-found',
      message: 'Cannot GET /api/nope',
    });
  });

  it('hides the details of an unexpected error behind a correlation id', () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const answer = filter.toAnswer(new Error('connection string postgres://secret@db leaked'));
    expect(answer.status).toBe(500);
    expect(answer.body.kind).toBe('internal');
    expect(answer.body.message).not.toContain('secret');
    expect(answer.body.message).toContain(answer.body.correlationId);
  });

  it('maps every error kind to an HTTP status', () => {
    const kinds: DomainError['kind'][] = [
      'invalid-argument',
      'unauthenticated',
      'forbidden',
      'not-found',
      'conflict',
      'too-many-requests',
      'unavailable',
      'internal',
    ];
    expect(kinds.map(httpStatusOf)).toEqual([400, 401, 403, 404, 409, 429, 503, 500]);
  });
});
