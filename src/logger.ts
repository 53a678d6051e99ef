import { pino, type Logger } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line. */
export const REDACT_PATHS = ['password', '*.password', '*.*.password', 'token', '*.token', 'key', '*.key', 'mqtt.password'];

/**
 * Root logger: JSON lines for journald/systemd, pretty output when a person watches a TTY.
 * Components take a child logger (`logger.child({ component: 'capture' })`), never this root directly.
 */
export function createLogger(options: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.EDGECAM_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (process.stdout.isTTY === true && !options.destination);
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  if (pretty) {
    return pino({ level, redact, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino({ level, redact }, (options.destination ?? process.stdout) as pino.DestinationStream);
}

/** A logger that drops everything: the default in tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
