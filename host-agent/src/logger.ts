export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Receives one finished line, newline included. */
  write: (line: string) => void;
  now?: () => Date;
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** Plain lines, `<ISO time> <level> <message>`: readable on a terminal and in the journal alike. */
export function createLogger({ level, write, now = () => new Date() }: LoggerOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const at =
    (lineLevel: LogLevel) =>
    (message: string): void => {
      if (LOG_LEVELS.indexOf(lineLevel) < threshold) return;
      write(`${now().toISOString()} ${lineLevel.padEnd(5)} ${message}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function stderrLogger(level: LogLevel): Logger {
  return createLogger({ level, write: (line) => process.stderr.write(line) });
}
