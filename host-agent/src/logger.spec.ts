import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

describe('createLogger', () => {
  const at = new Date('2025-01-02T03:04:05.678Z');

  it('writes one plain line per message with time and level', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (line) => lines.push(line), now: () => at });

    logger.info('connected');
    logger.error('revoked');

    expect(lines).toEqual(['2025-01-02T03:04:05.678Z info  connected\n', '2025-01-02T03:04:05.678Z error revoked\n']);
  });

  it('drops messages below its level', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', write: (line) => lines.push(line), now: () => at });

    logger.debug('a');
    logger.info('b');
    logger.warn('c');

    expect(lines).toEqual(['2025-01-02T03:04:05.678Z warn  c\n']);
  });
});
