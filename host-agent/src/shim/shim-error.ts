/** Errors of starting and talking to skiff-shim, each with the kind the Engine API maps to a status. */
import type { ErrorKind } from '@skiff/protocol';

export class ShimError extends Error {
  override name = 'ShimError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** A step of the container's start failed; the message reads "step: ERRNO (description): path". */
export class ShimStartError extends ShimError {
  override name = 'ShimStartError';
  constructor(
    readonly step: string,
    readonly errno: number,
    readonly code: string,
    readonly description: string,
    readonly path: string,
  ) {
    super(
      step === 'exec' ? 'invalid-argument' : step === 'container is not running' ? 'conflict' : 'internal',
      `${step}: ${code} (${description})${path ? `: ${path}` : ''}`,
    );
  }

  /** The exit code Docker records for a container that could not start (126/127 as a shell would). */
  get dockerExitCode(): number {
    if (this.step === 'exec') return this.code === 'ENOENT' ? 127 : 126;
    return 128;
  }
}
