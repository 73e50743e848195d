import { EngineError } from '../engine-error.js';
import { errorMessage } from '../error-message.js';

/**
 * Puts `context` in front of an error met while reading untrusted input (an archive, a layer).
 * Engine errors keep their kind; failures of the host itself (disk full, permission denied:
 * errors of a syscall) stay as they are, because they are not the input's fault; anything else
 * (a corrupt tar or gzip stream, bad JSON) is the input's fault: `invalid-argument`.
 */
export function inputError(context: string, error: unknown): Error {
  if (error instanceof EngineError)
    return new EngineError(error.kind, `${context}: ${error.message}`, { cause: error });
  if (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string') return error;
  return new EngineError('invalid-argument', `${context}: ${errorMessage(error)}`, { cause: error });
}
