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

/** The HTTP status of each kind: the server's REST API and the agent's Engine API answer alike. */
export const HTTP_STATUS_OF_ERROR_KIND: Readonly<Record<ErrorKind, number>> = {
  'invalid-argument': 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-many-requests': 429,
  unavailable: 503,
  internal: 500,
};

/** The body of every error answer of the REST API and of every failed acknowledgement on a socket. */
export interface ErrorBody {
  kind: ErrorKind;
  message: string;
  /** Set on `internal` errors: the id under which the server logged the details. */
  correlationId?: string;
  /** Set on a sign-in of an account with two-factor login that lacks a right TOTP code. */
  totpRequired?: boolean;
}
