import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * Paths never written to a log line. Personal data lives in lead bodies and contacts;
 * secrets in auth headers. Log messages are fixed strings; data goes in fields.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'body',
  'req.body',
  'lead',
  'contact',
  '*.contact',
  'email',
  'phone',
  'first_name',
  'last_name',
  'message',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'leadgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

/** To stdout, or to `destination` (the CLI writes its audit lines to stderr, its output to stdout). */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

export type { Logger };
