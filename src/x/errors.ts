/**
 * X answers failures in three JSON shapes and sometimes not in JSON at all. This module turns any
 * failed response (or a network failure) into one XApiError whose kind says what the caller can do.
 */
import { UserFacingError, type ErrorParams } from '../errors.js';
import { truncate } from '../text.js';

export const X_ERROR_KINDS = [
  'auth', // 32, 135, 215: our signature, clock or app credentials are wrong
  'token-revoked', // 89, 99: the user's link is broken; relink
  'account-locked', // 326 locked, 64 suspended
  'rate-limited', // 88 / HTTP 429
  'transient', // 130, 131, 5xx, network, timeout
  'forbidden', // 403 without a code that says more
  'image-rejected', // 400/422 with an `error` string: X's words, quoted (`xSaid`)
  'unexpected', // anything else, redirects included; 38 and 324/325: the bot's own request was wrong
  'banner-too-large', // update_profile_banner 422: could not be resized or too large (also refused before sending: over 5 MB)
  'banner-unprocessable', // update_profile_banner 400: no image, or it could not be processed
  'profile-text-too-long', // code 120: a profile value is longer than X allows
  // issue 12: breaker. X refused the app, not the user (variant: APP_BLOCKED_REASONS): every user's writes
  // wait for the breaker (src/x/breaker.ts); also the refusal before sending while it is open.
  'app-blocked',
] as const;
export type XErrorKind = (typeof X_ERROR_KINDS)[number];

/** Why X refuses the app: 453 access level, 261/220 no write permission, 416 app suspended, 402 credits
 *  depleted, 429 monthly usage cap, and the consumer key rejected for every user (src/x/breaker.ts). */
export const APP_BLOCKED_REASONS = ['access-level', 'write-permission', 'app-suspended', 'credits', 'usage-cap', 'consumer-key'] as const;
export type AppBlockedReason = (typeof APP_BLOCKED_REASONS)[number];

export class XApiError extends UserFacingError<XErrorKind> {
  readonly status: number | undefined;
  readonly code: number | undefined;
  /** For rate-limited: when X says the window resets. */
  readonly resetAt: Date | undefined;
  /** A network failure after the request may have reached X: whether X acted on it is unknown. */
  readonly ambiguous: boolean;

  constructor(
    kind: XErrorKind,
    params: ErrorParams = {},
    details: { status?: number; code?: number; resetAt?: Date; detail?: string; cause?: unknown; ambiguous?: boolean; variant?: string } = {},
  ) {
    super(kind, params, { detail: details.detail, cause: details.cause, variant: details.variant });
    this.status = details.status;
    this.code = details.code;
    this.resetAt = details.resetAt;
    this.ambiguous = details.ambiguous ?? false;
  }
}

interface ParsedBody {
  code: number | undefined;
  message: string | undefined;
  /** The `error` string of the `{"request","error"}` shape. */
  error: string | undefined;
  /** The `type` of a v2 problem document (`https://api.x.com/2/problems/…`), and its `title`. */
  problem?: { type: string | undefined; title: string | undefined };
}

function parseBody(body: string): ParsedBody {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { code: undefined, message: body.trim().slice(0, 200) || undefined, error: undefined };
  }
  if (typeof json !== 'object' || json === null) return { code: undefined, message: undefined, error: undefined };
  const record = json as Record<string, unknown>;
  if (Array.isArray(record.errors) && record.errors.length > 0) {
    const first = record.errors[0] as Record<string, unknown>;
    return {
      code: typeof first.code === 'number' ? first.code : undefined,
      message: typeof first.message === 'string' ? first.message : undefined,
      error: undefined,
    };
  }
  if (typeof record.error === 'string') return { code: undefined, message: record.error, error: record.error };
  if (typeof record.title === 'string' || typeof record.detail === 'string') {
    const message = [record.title, record.detail].filter((part) => typeof part === 'string').join(': ');
    const problem = { type: typeof record.type === 'string' ? record.type : undefined, title: typeof record.title === 'string' ? record.title : undefined };
    return { code: undefined, message, error: undefined, problem };
  }
  return { code: undefined, message: undefined, error: undefined };
}

/** X's text as a parameter: one line, no control characters, at most X_SAID_MAX characters. */
const X_SAID_MAX = 300;
const xWords = (text: string): string => truncate(text.replace(/[\s\p{Cc}\p{Cf}]+/gu, ' ').trim().replace(/\.$/, ''), X_SAID_MAX);

function resetFrom(header: string | undefined, now: number): Date {
  const seconds = Number(header);
  // Without a usable header, X's windows are 15 minutes long.
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : new Date(now + 15 * 60_000);
}

/** The words' parameters of a rate limit: whole minutes left (at least 1) and the instant it resets. */
export function rateLimitedParams(resetAt: Date, now = Date.now()): { count: number; resetAt: number } {
  return { count: Math.max(1, Math.ceil((resetAt.getTime() - now) / 60_000)), resetAt: resetAt.getTime() };
}

/** Map an HTTP response that is not a success to a typed error. */
export function errorFromResponse(status: number, headers: Record<string, string | string[] | undefined>, body: string, now = Date.now()): XApiError {
  const { code, message, error, problem } = parseBody(body);
  const detail = `HTTP ${status}${code === undefined ? '' : ` code ${code}`}${message ? `: ${message}` : ''}`;
  const details = { status, code, detail };
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };

  if (status >= 300 && status < 400) {
    return new XApiError('unexpected', {}, { ...details, variant: 'redirect' });
  }
  switch (code) {
    case 89:
    case 99:
      return new XApiError('token-revoked', {}, details);
    case 32:
    case 135:
    case 215:
      return new XApiError('auth', {}, code === 135 ? { ...details, variant: 'clock' } : details);
    case 326:
      return new XApiError('account-locked', {}, details);
    case 64:
      return new XApiError('account-locked', {}, { ...details, variant: 'suspended' });
    case 88:
      break; // rate limit, below
    case 130:
    case 131:
      return new XApiError('transient', {}, { ...details, variant: 'over-capacity' });
    case 220:
    case 261:
      return new XApiError('app-blocked', {}, { ...details, variant: 'write-permission' });
    case 453:
      return new XApiError('app-blocked', {}, { ...details, variant: 'access-level' });
    case 416:
      return new XApiError('app-blocked', {}, { ...details, variant: 'app-suspended' }); // HTTP 401, but relinking would not help
    case 120:
      return new XApiError('profile-text-too-long', {}, details);
    case 38:
      return new XApiError('unexpected', {}, { ...details, variant: 'missing-parameter' });
    case 324:
    case 325:
      return new XApiError('unexpected', {}, { ...details, variant: 'media' });
  }
  // X's v2 problems for the app's pay-per-use account: out of credits (402), or the monthly cap reached (a
  // 429 that no per-user window resets).
  const problemType = problem?.type?.replace(/^.*\/problems\//, '');
  if (status === 402 || problemType === 'credits-depleted') return new XApiError('app-blocked', {}, { ...details, variant: 'credits' });
  if (problemType === 'usage-capped' || problem?.title === 'UsageCapExceeded') return new XApiError('app-blocked', {}, { ...details, variant: 'usage-cap' });
  if (status === 429 || code === 88) {
    const resetAt = resetFrom(header('x-rate-limit-reset'), now);
    return new XApiError('rate-limited', rateLimitedParams(resetAt, now), { ...details, resetAt });
  }
  if (status >= 500) return new XApiError('transient', {}, details);
  if ((status === 400 || status === 422) && error !== undefined) {
    // X's own words (English): the one thing the user can act on. Hostile input: kept to one bounded line
    // here (it is stored with a failed scheduled change); quoted and made inert where it is shown.
    return new XApiError('image-rejected', { xSaid: xWords(error) }, details);
  }
  if (status === 401) return new XApiError('token-revoked', {}, details);
  if (status === 403) return new XApiError('forbidden', {}, details);
  return new XApiError('unexpected', {}, details);
}

/** Failures before a connection existed: the request cannot have reached X. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export function networkError(cause: unknown): XApiError {
  const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  const code = (cause as { code?: unknown } | undefined)?.code;
  // A reset, a closed socket or a timeout after the request was written: X may have acted on it.
  const ambiguous = !(typeof code === 'string' && NOT_CONNECTED.has(code));
  return new XApiError('transient', {}, { detail, cause, ambiguous, variant: 'unreachable' });
}

/**
 * A failed update_profile_banner or update_profile: what its status or code means on that endpoint (a 400
 * or 422 on a banner names what was wrong with the banner; code 120 is a value over X's limit), else what
 * it means anywhere (errorFromResponse).
 */
export function profileErrorFromResponse(endpoint: 'banner' | 'profile', status: number, headers: Record<string, string | string[] | undefined>, body: string, now = Date.now()): XApiError {
  const general = errorFromResponse(status, headers, body, now);
  const { code, message } = parseBody(body);
  const details = { status, code, detail: `HTTP ${status}${code === undefined ? '' : ` code ${code}`}${message ? `: ${message}` : ''}` };
  if (code === 120) return new XApiError('profile-text-too-long', {}, details);
  // Only where no code says more (a 400 with code 215 is still a signing problem).
  if (endpoint === 'banner' && code === undefined && (status === 400 || status === 422)) {
    return new XApiError(status === 422 ? 'banner-too-large' : 'banner-unprocessable', {}, details);
  }
  return general;
}
