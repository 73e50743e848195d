import type { ErrorKind } from '@skiff/protocol';

/**
 * An error of the engine that a client can act on. Its kind decides the Docker API status
 * (host-agent/src/engine-api maps kinds to statuses in one place); its message is what
 * `docker` prints, so it names the object: `no such container: web-1`.
 */
export class EngineError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EngineError';
  }
}

export const invalidArgument = (message: string) => new EngineError('invalid-argument', message);
export const notFound = (message: string) => new EngineError('not-found', message);
export const conflict = (message: string) => new EngineError('conflict', message);
export const forbidden = (message: string) => new EngineError('forbidden', message);
export const unavailable = (message: string) => new EngineError('unavailable', message);
