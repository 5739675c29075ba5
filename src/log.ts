/**
 * Structured JSON logs (pino). Anything that looks like a credential is redacted by key name, wherever
 * it sits in a logged object; code never logs token values on purpose either.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

const SECRET_KEYS = [
  'token',
  'secret',
  'tokenSecret',
  'accessToken',
  'accessTokenSecret',
  'consumerSecret',
  'oauth_token',
  'oauth_token_secret',
  'oauth_verifier',
  'oauth_signature',
  'verifier',
  'pin',
  'authorization',
  'Authorization',
  'password',
  'key',
];

/** Redaction paths for the keys above at the top level and up to two levels deep. */
const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

export function createLogger(options: { level: LogLevel; destination?: DestinationStream; name?: string }): Logger {
  return pino(
    {
      name: options.name ?? 'avatar-bot',
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}
