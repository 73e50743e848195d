/** The exit statuses of skiff-agent; the systemd unit and the install script rely on them. */
export const ExitCode = {
  /** Stopped on request (SIGINT, SIGTERM) or finished a one-shot command. */
  Ok: 0,
  /** A failure at run time: enrolment refused or given up, unreadable identity. */
  Failure: 1,
  /** Bad arguments or configuration: nothing was attempted. */
  Usage: 2,
  /** The server revoked this host: restarting will not help until it is enrolled again. */
  Revoked: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
