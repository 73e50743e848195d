/** The kinds every error of Skiff is classified into; each side maps them to HTTP or acks in one place. */
export const ERROR_KINDS = [
  'invalid-argument',
  'unauthenticated',
  'forbidden',
  'not-found',
  'conflict',
  'too-many-requests',
  'unavailable',
  'internal',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** The body of every error answer of the REST API and of every failed acknowledgement on a socket. */
export interface ErrorBody {
  kind: ErrorKind;
  message: string;
  /** Set on `internal` errors: the id under which the server logged the details. */
  correlationId?: string;
}
