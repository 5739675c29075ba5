/**
 * Structured JSON logs (pino). Anything that looks like a credential is redacted twice, in every
 * finished line: by key name, at any depth of a logged object, and by value (messages, error messages,
 * stacks, the `url` of a DiscordAPIError, nested causes): a credential inside a string has no key to
 * match. Code never logs token values on purpose either.
 *
 * Both passes work on the serialized line rather than through pino's `redact` paths: those cost about
 * 40 µs a line (20 times the line itself), which 100 commands at once pay before being acknowledged.
 * A line is only parsed again when a credential's key name appears in it.
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
  'interactionToken',
  'clientSecret',
];

const SECRET_KEY_SET: ReadonlySet<string> = new Set(SECRET_KEYS);
/** One of the keys above as a JSON key: a line without one needs no second look. */
const SECRET_KEY_IN_LINE = new RegExp(`"(?:${SECRET_KEYS.join('|')})":`);
const CENSORED = '[redacted]';

function censorKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(censorKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, SECRET_KEY_SET.has(key) ? CENSORED : censorKeys(inner)]));
}

/** The value of every credential-named key in `line` (one serialized log line), at any depth, replaced. */
export function redactKeys(line: string): string {
  if (!SECRET_KEY_IN_LINE.test(line)) return line;
  try {
    return `${JSON.stringify(censorKeys(JSON.parse(line)))}\n`;
  } catch {
    return `{"level":50,"msg":"a log line naming a credential could not be redacted and was dropped"}\n`;
  }
}

/**
 * Credentials by their shape, matched on the serialized JSON line. Each keeps the part that says what
 * was there and replaces the secret with [redacted].
 */
const SECRET_VALUES: Array<[RegExp, string]> = [
  // Interaction tokens in webhook and callback paths: /webhooks/<app>/<token>, /interactions/<id>/<token>.
  [/(\/(?:webhooks|interactions)\/\d+\/)[^/?#\s"'\\]+/g, '$1[redacted]'],
  // Authorization header values.
  [/\b(Bot|Bearer|Basic)(\s+|%20)[A-Za-z0-9._~+/=-]{8,}/g, '$1 [redacted]'],
  // OAuth parameters in a query, a form body or an OAuth header (oauth_token="…"), and OAuth2 ones.
  [/\b(oauth_(?:token|token_secret|verifier|signature|nonce)|access_token|refresh_token|client_secret|code_verifier)((?:\\?["'])?\s*(?:=|:|%3D)\s*(?:\\?["'])?)[^&"'\s,\\]+/gi, '$1$2[redacted]'],
  // An authorization code or state in a redirect URL.
  [/([?&](?:code|state|confirm)=)[^&"'\s#\\]+/g, '$1[redacted]'],
  // A Discord bot token: base64 user id . timestamp . HMAC (JWTs have the same shape).
  [/\b[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}/g, '[redacted]'],
  // A 32-byte key in base64 (TOKEN_ENCRYPTION_KEY, TOKEN_ENCRYPTION_KEY_PREVIOUS).
  [/(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])/g, '[redacted]'],
];

/** Replace every credential-shaped value in `text` (one serialized log line). */
export function redactSecrets(text: string): string {
  let result = text;
  for (const [pattern, replacement] of SECRET_VALUES) result = result.replace(pattern, replacement);
  return result;
}

/** A destination that redacts each line by value before handing it on. */
function redacting(destination: DestinationStream): DestinationStream {
  return { write: (line: string) => destination.write(redactSecrets(redactKeys(line))) };
}

export function createLogger(options: { level: LogLevel; destination?: DestinationStream; name?: string }): Logger {
  return pino(
    {
      name: options.name ?? 'avatar-bot',
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    redacting(options.destination ?? pino.destination({ dest: 2, sync: true })),
  );
}
