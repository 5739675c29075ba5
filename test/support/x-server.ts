/**
 * An X-compatible HTTP server on 127.0.0.1 for tests, benchmarks and the demo.
 *
 * It is deliberately strict: it verifies every OAuth 1.0a signature with its own RFC 5849
 * implementation (nothing from `src/`, no oauth-1.0a), decodes uploaded images with sharp, and
 * answers with X's own error shapes. When the bot's client works against this server, the
 * signing, encoding and error handling are right, not merely consistent with themselves.
 *
 * Quirks of X it reproduces on purpose:
 * - update_profile_image answers with the OLD profile_image_url_https; the new one shows up in
 *   verify_credentials / users/show only after `processingDelayMs`.
 * - `id` in user objects is written with all its digits (ids are above 2^53, so a JS client that
 *   reads `id` instead of `id_str` gets a wrong number, as with the real API).
 * - The /oauth/* endpoints answer form-encoded bodies with `content-type: text/html`.
 * - update_profile_banner answers 201 with an empty body (no user object); the banner shows up as
 *   `profile_banner_url` (and in users/profile_banner.json) only after `processingDelayMs`, like the avatar.
 * - update_profile counts characters as X does, in graphemes (an emoji flag or family is one), answers
 *   403 code 120 for a value over X's limit and ignores parameters it does not know.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import sharp from 'sharp';

// ---------------------------------------------------------------------------------------------
// Public types

export interface XServerOptions {
  consumerKey?: string;
  consumerSecret?: string;
  /** Accepted clock skew of oauth_timestamp, in seconds (default 300). */
  timestampWindowSec?: number;
  /** Time between an accepted upload and its URL showing up in the user object (default 0). */
  processingDelayMs?: number;
  /** Every update_profile_image and update_profile_banner is answered after this delay (default 0). */
  uploadLatencyMs?: number;
  /** Every verify_credentials and users/show is answered after this delay (default 0). */
  readLatencyMs?: number;
  /** Every update_profile (name, bio) is answered after this delay (default 0). */
  profileWriteLatencyMs?: number;
  /** Every profile image download (/profile_images/…) is answered after this delay (default 0). */
  downloadLatencyMs?: number;
  port?: number;
  /** Clock in milliseconds, for timestamps, token expiry and processing (default Date.now). */
  now?: () => number;
}

export interface AccessTokenPair {
  token: string;
  secret: string;
}

export interface FakeXUser {
  id: string;
  screenName: string;
  name: string;
  /** The access token pair issued by addUser, as if the user had already linked the bot. */
  accessToken: AccessTokenPair;
}

export type ImageFormat = 'jpeg' | 'png' | 'gif';

export interface Upload {
  userId: string;
  screenName: string;
  bytes: Buffer;
  format: ImageFormat;
  width: number;
  height: number;
  encoding: 'multipart' | 'base64';
  at: number;
  /** Which API set it: update_profile_image, or media upload + PUT /2/users/me/profile_image. */
  api: 'v1.1' | 'v2';
}

/** An accepted update_profile_banner. */
export interface BannerUpload {
  userId: string;
  /** The bytes as received. */
  bytes: Buffer;
  format: ImageFormat;
  /** Of the image as received. */
  width: number;
  height: number;
  /** The region asked for (all four parameters), if any. */
  region?: { width: number; height: number; offsetLeft: number; offsetTop: number };
  encoding: 'multipart' | 'base64';
  at: number;
}

/** What update_profile changes, as X shows it now. */
export interface ProfileFields {
  name: string;
  description: string;
  url: string;
  location: string;
}

export interface RequestLog {
  method: string;
  /** Path without the query string, as sent. */
  path: string;
  query: Array<[string, string]>;
  /** 0 while unanswered, or when the connection was dropped on purpose. */
  status: number;
  /** True when the OAuth signature, timestamp, nonce and token all checked out. */
  authOk: boolean;
  oauthParams: Record<string, string> | null;
  /** Why the server answered as it did, when it was not a plain success (e.g. the expected base string). */
  detail?: string;
  at: number;
}

export interface Fault {
  /** Matched against the pathname (no query). */
  path: string | RegExp;
  method?: string;
  /** How many matching requests this fault answers (default 1; Infinity for all). */
  times?: number;
  status?: number;
  /** An object is sent as JSON, a string as text/plain (override with headers). */
  body?: string | object;
  headers?: Record<string, string>;
  /** Wait this long before answering; Infinity never answers. Without status/destroy/redirectTo
   *  the request is then handled normally (a slow but successful answer). */
  hangMs?: number;
  /** Destroy the socket instead of answering. */
  destroy?: boolean;
  /** Answer 302 (or `status` if it is 3xx) with this Location. */
  redirectTo?: string;
}

/** Where a request is when a request hook sees it: on arrival (after its OAuth check), or, for an upload,
 *  once X applied the image and before it answers. Returning 'drop' closes the connection unanswered. */
export type RequestStage = 'received' | 'applied';
export type RequestHook = (request: { method: string; path: string; userId?: string; stage: RequestStage }) => Promise<'drop' | void> | 'drop' | void;

export interface XServer {
  /** http://127.0.0.1:PORT, without a trailing slash. */
  readonly url: string;
  readonly consumer: { key: string; secret: string };
  readonly users: ReadonlyMap<string, FakeXUser>;
  readonly uploads: Upload[];
  readonly banners: BannerUpload[];
  readonly requests: RequestLog[];
  /** How many requests reused a nonce (and were refused for it). */
  readonly nonceReuses: number;
  addUser(input: { screenName: string; id?: string; name?: string }): FakeXUser;
  /** Issues one more access token pair for an existing user. */
  issueAccessToken(userId: string): AccessTokenPair;
  /** What the human does on /oauth/authorize: returns the PIN (oob) or the callback redirect. */
  approve(requestToken: string, userId: string): { verifier: string; redirectUrl?: string };
  /** Revokes every access token of the user (they then answer 401 code 89). */
  revoke(userId: string): void;
  /** The user's profile_image_url_https as X would show it right now. */
  profileImageUrl(userId: string): string;
  /** The user's profile_banner_url as X would show it right now; undefined without a (processed) banner. */
  profileBannerUrl(userId: string): string | undefined;
  /** The user's name, bio, website and location as X shows them now. */
  profile(userId: string): ProfileFields;
  /** What the user does on X's own site: changes their name or bio by hand. */
  setProfile(userId: string, fields: Partial<Pick<ProfileFields, 'name' | 'description'>>): void;
  // issue 12: hand changes
  /** What the user does on X's own site: uploads a new profile image by hand (shown at once, no API request). */
  setProfileImage(userId: string, image: { bytes: Buffer; format: ImageFormat }): void;
  fail(fault: Fault): void;
  clearFaults(): void;
  setUploadLatency(ms: number): void;
  /** Lets a test act at a request's stages (kill the bot while X holds an upload, say); undefined removes it. */
  setRequestHook(hook: RequestHook | undefined): void;
  /** The most update_profile_image requests being handled at once since the start (or the last reset). */
  readonly maxUploadsInFlight: number;
  resetMaxUploadsInFlight(): void;
  /** Answers 429 to each user's first upload attempt for `fraction` of users (exactly every
   *  1/fraction-th user in arrival order); retries before the reset time get 429 again. */
  rateLimitFirstAttempts(options: { fraction: number; resetAfterMs: number }): void;
  // --- issue 12: v2 upload path ---
  /** "v1.1 switched off for this app": every request to `paths` (update_profile_image by default) is answered
   *  410 (code 68, as X answered the retired v1), 404 (code 34) or 403 code 453; undefined switches it on again. */
  switchOffV1(answer: 410 | 404 | 453 | undefined, paths?: readonly string[]): void;
  // issue 12: write budget. X's per-user, per-endpoint limits: every answer to a user's request carries
  // x-rate-limit-limit/remaining/reset for that user and endpoint (DEFAULT_RATE_LIMIT calls per 15 minutes);
  // a request at remaining 0 before the reset is answered 429 (code 88).
  /** Sets a user's limit on `endpoint` (a path such as X_PATHS.updateProfileImage); `resetAt` in ms. */
  setRateLimit(userId: string, endpoint: string, limit: { remaining: number; resetAt: number; limit?: number }): void;
  // --- issue 12: breaker
  /** From now on X refuses the app: every profile write (or, `scope: 'all'`, every signed request) answers
   *  the app-level refusal `kind` (xFaults.appBlocked), after its OAuth check, until recoverApp(). */
  blockApp(kind: AppBlockKind, scope?: 'writes' | 'all'): void;
  recoverApp(): void;
  close(): Promise<void>;
}

/** issue 12: each user's calls per endpoint per RATE_LIMIT_WINDOW_MS (X's are 75 or fewer; the tests of other
 *  things make more, so only setRateLimit brings a user to 0). */
export const DEFAULT_RATE_LIMIT = 100_000;
export const RATE_LIMIT_WINDOW_MS = 15 * 60_000;

// --- issue 12: breaker
/** X's app-level refusals: 453, 261, 220, 416, pay-per-use credits depleted (402), the monthly usage cap (429). */
export type AppBlockKind = 453 | 261 | 220 | 416 | 'credits' | 'usage-cap';
/** The profile writes (v1.1 and v2; not a GET of the same path) an app-level block refuses (scope 'writes'). */
export const X_WRITE_PATHS: readonly string[] = ['/1.1/account/update_profile_image.json', '/1.1/account/update_profile_banner.json', '/1.1/account/update_profile.json', '/1.1/account/remove_profile_banner.json', '/2/media/upload', '/2/users/me/profile_image', '/2/users/me'];

export const X_PATHS = {
  requestToken: '/oauth/request_token',
  authorize: '/oauth/authorize',
  authenticate: '/oauth/authenticate',
  accessToken: '/oauth/access_token',
  updateProfileImage: '/1.1/account/update_profile_image.json',
  updateProfileBanner: '/1.1/account/update_profile_banner.json',
  updateProfile: '/1.1/account/update_profile.json',
  profileBanner: '/1.1/users/profile_banner.json',
  removeProfileBanner: '/1.1/account/remove_profile_banner.json',
  verifyCredentials: '/1.1/account/verify_credentials.json',
  usersShow: '/1.1/users/show.json',
  invalidateToken: '/1.1/oauth/invalidate_token.json',
  // issue 12: v2 upload path (docs.x.com: POST /2/media/upload, PUT /2/users/me/profile_image, PUT and GET /2/users/me)
  mediaUpload: '/2/media/upload',
  v2ProfileImage: '/2/users/me/profile_image',
  v2Me: '/2/users/me',
} as const;

/** The v1.1 profile writes: what a test looks for when it asserts that no v1.1 write was sent. */
export const V1_PROFILE_WRITES: readonly string[] = [X_PATHS.updateProfileImage, X_PATHS.updateProfile];
/** POST /2/media/upload's limit for an image (X's media guide: 5 MB). */
export const MAX_MEDIA_IMAGE_BYTES = 5 * 1024 * 1024;
/** An image's media id lives this long (X answers expires_after_secs: 86400). */
export const MEDIA_TTL_MS = 24 * 60 * 60_000;

export const MAX_IMAGE_BYTES = 700 * 1024;
/** X's help centre: banners up to 5 MB. */
export const MAX_BANNER_BYTES = 5 * 1024 * 1024;
/** update_profile's limits, in graphemes. */
export const PROFILE_LIMITS = { name: 50, description: 160, url: 100, location: 30 } as const;
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
const REQUEST_TOKEN_TTL_MS = 15 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// RFC 5849 section 3.4 (independent of src/ on purpose)

/** RFC 3986 percent-encoding: everything except A-Z a-z 0-9 - . _ ~ */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** RFC 5849 3.4.1: METHOD&enc(base URI)&enc(normalized parameters). */
export function signatureBaseString(
  method: string,
  baseUrl: string,
  params: Array<[string, string]>,
): string {
  const normalized = params
    .map(([name, value]): [string, string] => [percentEncode(name), percentEncode(value)])
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  return [method.toUpperCase(), percentEncode(baseUrl), percentEncode(normalized)].join('&');
}

/** RFC 5849 3.4.2: base64(HMAC-SHA1(enc(consumerSecret)&enc(tokenSecret), base)). */
export function hmacSha1Signature(base: string, consumerSecret: string, tokenSecret: string): string {
  const key = `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`;
  return createHmac('sha1', key).update(base).digest('base64');
}

/**
 * Parses `Authorization: OAuth k="v", ...` into percent-decoded parameters.
 * Returns undefined for anything that is not a well-formed OAuth header (or repeats a name).
 */
export function parseOAuthHeader(header: string | undefined): Record<string, string> | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*OAuth\s+([\s\S]*)$/i.exec(header);
  if (!match) return undefined;
  const rest = match[1] ?? '';
  const pair = /\s*([A-Za-z0-9_.~%-]+)\s*=\s*"([^"]*)"\s*(,|$)/y;
  const params: Record<string, string> = {};
  let count = 0;
  while (pair.lastIndex < rest.length) {
    const start = pair.lastIndex;
    const m = pair.exec(rest);
    if (!m || m.index !== start) return undefined;
    const name = safeDecode(m[1] ?? '');
    const value = safeDecode(m[2] ?? '');
    if (name === undefined || value === undefined || Object.hasOwn(params, name)) return undefined;
    params[name] = value;
    count++;
    if (m[3] === '') break;
  }
  if (pair.lastIndex < rest.length && rest.slice(pair.lastIndex).trim() !== '') return undefined;
  return count > 0 ? params : undefined;
}

function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** application/x-www-form-urlencoded (also used for query strings): `+` is a space. Throws on bad %. */
function parseForm(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const piece of text.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq === -1 ? piece : piece.slice(0, eq);
    const value = eq === -1 ? '' : piece.slice(eq + 1);
    out.push([
      decodeURIComponent(name.replace(/\+/g, ' ')),
      decodeURIComponent(value.replace(/\+/g, ' ')),
    ]);
  }
  return out;
}

function formEncode(pairs: Record<string, string>): string {
  return Object.entries(pairs)
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
    .join('&');
}

// ---------------------------------------------------------------------------------------------
// multipart/form-data (RFC 7578), binary-safe

interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

function multipartBoundary(contentType: string): string | undefined {
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

function parseMultipart(body: Buffer, boundary: string): MultipartPart[] | string {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const crlfDelimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  let pos: number;
  if (body.subarray(0, delimiter.length).equals(delimiter)) {
    pos = delimiter.length;
  } else {
    const first = body.indexOf(crlfDelimiter); // after a preamble
    if (first === -1) return 'no opening boundary';
    pos = first + crlfDelimiter.length;
  }
  const parts: MultipartPart[] = [];
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // close delimiter "--"
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++; // transport padding
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) return 'boundary not followed by CRLF';
    pos += 2;
    let headerText: string;
    let contentStart: number;
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) {
      headerText = '';
      contentStart = pos + 2;
    } else {
      const headerEnd = body.indexOf('\r\n\r\n', pos, 'latin1');
      if (headerEnd === -1) return 'part headers never end';
      headerText = body.subarray(pos, headerEnd).toString('utf8');
      contentStart = headerEnd + 4;
    }
    const contentEnd = body.indexOf(crlfDelimiter, contentStart);
    if (contentEnd === -1) return 'part is not closed by a boundary';
    const headers = new Map<string, string>();
    for (const line of headerText.split('\r\n')) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) return `bad part header line ${JSON.stringify(line.slice(0, 80))}`;
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition');
    if (!disposition || !/^form-data\s*(;|$)/i.test(disposition)) {
      return 'part without content-disposition: form-data';
    }
    const dispositionParams = new Map<string, string>();
    const param = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
    for (const m of disposition.matchAll(param)) {
      const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
      dispositionParams.set((m[1] ?? '').toLowerCase(), value);
    }
    const name = dispositionParams.get('name');
    if (name === undefined) return 'part without a name';
    const part: MultipartPart = { name, data: body.subarray(contentStart, contentEnd) };
    const filename = dispositionParams.get('filename');
    if (filename !== undefined) part.filename = filename;
    const partType = headers.get('content-type');
    if (partType !== undefined) part.contentType = partType;
    parts.push(part);
    pos = contentEnd + crlfDelimiter.length;
  }
}

// ---------------------------------------------------------------------------------------------
// X's error bodies, and ready-made faults

const MESSAGES = {
  32: 'Could not authenticate you.',
  34: 'Sorry, that page does not exist.',
  38: 'image parameter is missing.',
  50: 'User not found.',
  64: 'Your account is suspended and is not permitted to access this feature.',
  88: 'Rate limit exceeded',
  89: 'Invalid or expired token.',
  120: 'Account update failed: value is too long.',
  130: 'Over capacity',
  131: 'Internal error',
  135: 'Timestamp out of bounds.',
  215: 'Bad Authentication data.',
  220: 'Your credentials do not allow access to this resource.',
  261: 'Application cannot perform write actions. Contact Twitter Platform Operations through https://help.twitter.com/forms/platform.',
  68: 'The Twitter REST API v1 is no longer active. Please migrate to API v1.1.',
  326: 'To protect our users from spam and other malicious activity, this account is temporarily locked. Please log in to https://twitter.com to unlock your account.',
  416: 'Invalid / suspended application',
  415: 'Callback URL not approved for this client application. Approved callback URLs can be adjusted in your application settings',
  453: 'You currently have access to a subset of Twitter API v2 endpoints and limited v1.1 endpoints (e.g. media post, oauth) only. If you need access to this endpoint, you may need a different access level. You can learn more here: https://developer.twitter.com/en/portal/product',
} as const;

type ErrorCode = keyof typeof MESSAGES;

export function xErrorBody(code: ErrorCode): { errors: Array<{ code: number; message: string }> } {
  return { errors: [{ code, message: MESSAGES[code] }] };
}

type FaultExtra = Partial<Omit<Fault, 'path'>>;

const BANNER_ERRORS = {
  missing: 'No image was provided.',
  unprocessable: 'Image data could not be processed.',
  tooLarge: 'Image could not be resized or is too large.',
} as const;

function pathString(path: string | RegExp): string {
  return typeof path === 'string' ? path : X_PATHS.updateProfileImage;
}

/** Ready-made faults with X's real status codes and bodies. `extra` overrides (e.g. `{ times: 3 }`). */
export const xFaults = {
  tokenRevoked: (path: string | RegExp, extra?: FaultExtra): Fault => ({
    path, status: 401, body: xErrorBody(89), ...extra,
  }),
  rateLimited: (path: string | RegExp, resetAtUnixSec: number, extra?: FaultExtra): Fault => ({
    path,
    status: 429,
    headers: {
      'x-rate-limit-limit': '75',
      'x-rate-limit-remaining': '0',
      'x-rate-limit-reset': String(resetAtUnixSec),
    },
    body: xErrorBody(88),
    ...extra,
  }),
  serviceUnavailable: (path: string | RegExp, extra?: FaultExtra): Fault => ({
    path,
    status: 503,
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>',
    ...extra,
  }),
  overCapacity: (path: string | RegExp, extra?: FaultExtra): Fault => ({
    path, status: 503, body: xErrorBody(130), ...extra,
  }),
  internalError: (path: string | RegExp, extra?: FaultExtra): Fault => ({
    path, status: 500, body: xErrorBody(131), ...extra,
  }),
  /** Never answers; the client's timeout must fire. */
  timeout: (path: string | RegExp, extra?: FaultExtra): Fault => ({ path, hangMs: Infinity, ...extra }),
  connectionReset: (path: string | RegExp, extra?: FaultExtra): Fault => ({ path, destroy: true, ...extra }),
  imageRejected: (path: string | RegExp, error = 'media type unrecognized.', extra?: FaultExtra): Fault => ({
    path, status: 422, body: { request: pathString(path), error }, ...extra,
  }),
  /** update_profile_banner's 400: no image, or one X could not process. */
  bannerUnprocessable: (extra?: FaultExtra): Fault => ({
    path: X_PATHS.updateProfileBanner, status: 400, body: { request: X_PATHS.updateProfileBanner, error: BANNER_ERRORS.unprocessable }, ...extra,
  }),
  /** update_profile_banner's 422: could not be resized, or too large. */
  bannerTooLarge: (extra?: FaultExtra): Fault => ({
    path: X_PATHS.updateProfileBanner, status: 422, body: { request: X_PATHS.updateProfileBanner, error: BANNER_ERRORS.tooLarge }, ...extra,
  }),
  /** update_profile's 403 code 120: a value over X's limit. */
  profileTextTooLong: (extra?: FaultExtra): Fault => ({
    path: X_PATHS.updateProfile, status: 403, body: xErrorBody(120), ...extra,
  }),
  forbidden: (path: string | RegExp, code: 220 | 261 | 453, extra?: FaultExtra): Fault => ({
    path, status: 403, body: xErrorBody(code), ...extra,
  }),
  accountLocked: (path: string | RegExp, extra?: FaultExtra): Fault => ({
    path, status: 403, body: xErrorBody(326), ...extra,
  }),
  accountSuspended: (path: string | RegExp, extra?: FaultExtra): Fault => ({
    path, status: 403, body: xErrorBody(64), ...extra,
  }),
  /** A v2-style problem document, as X sends when the app's access level is wrong. */
  v2Problem: (path: string | RegExp, extra?: FaultExtra): Fault => ({
    path,
    status: 403,
    body: {
      title: 'Client Forbidden',
      detail:
        'When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.',
      type: 'https://api.twitter.com/2/problems/client-forbidden',
      reason: 'client-not-enrolled',
    },
    ...extra,
  }),
  /** X refusing the app rather than the user (issue 12), as X answers it: 453/261/220 with 403, 416 with
   *  401, depleted credits as a v2 problem with 402, the monthly usage cap as a v2 problem with 429. */
  appBlocked: (path: string | RegExp, kind: AppBlockKind, extra?: FaultExtra): Fault => {
    switch (kind) {
      case 416:
        return { path, status: 401, body: xErrorBody(416), ...extra };
      case 'credits':
        return { path, status: 402, body: { title: 'Payment Required', detail: 'credits depleted', type: 'https://api.x.com/2/problems/credits-depleted' }, ...extra };
      case 'usage-cap':
        return {
          path,
          status: 429,
          body: { title: 'UsageCapExceeded', detail: 'Usage cap exceeded: Monthly product cap', type: 'https://api.x.com/2/problems/usage-capped', period: 'Monthly', scope: 'Product' },
          ...extra,
        };
      default:
        return { path, status: 403, body: xErrorBody(kind), ...extra };
    }
  },
  redirect: (path: string | RegExp, location: string, extra?: FaultExtra): Fault => ({
    path, redirectTo: location, ...extra,
  }),
};

// ---------------------------------------------------------------------------------------------
// Server state

interface StoredImage {
  n: number;
  format: ImageFormat;
  readyAt: number;
  /** Uploaded bytes, or undefined until the default avatar is rendered. */
  bytes?: Buffer;
  defaultColor?: { r: number; g: number; b: number };
  renditions: Map<string, Promise<Buffer>>;
}

interface StoredBanner {
  n: number;
  readyAt: number;
  /** The region asked for, cut out, as PNG or JPEG like the upload. */
  bytes: Buffer;
  format: ImageFormat;
  renditions: Map<string, Promise<Buffer>>;
  /** remove_profile_banner: from `readyAt` the user has no banner. */
  removed?: true;
}

interface UserState {
  user: FakeXUser;
  images: StoredImage[];
  nextImage: number;
  banners: StoredBanner[];
  /** update_profile's fields besides the name (which is user.name). */
  description: string;
  url: string;
  location: string;
  firstUploadSeen: boolean;
  rateLimitedUntil: number;
}

interface RequestToken {
  token: string;
  secret: string;
  callback: string;
  createdAt: number;
  verifier?: string;
  userId?: string;
}

interface AccessToken {
  token: string;
  secret: string;
  userId: string;
}

type AuthNeed = 'none' | 'consumer' | 'request-token' | 'access-token';

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  log: RequestLog;
  path: string;
  query: Array<[string, string]>;
  body: Buffer;
  /** Body params when the body is application/x-www-form-urlencoded. */
  form: Array<[string, string]>;
  oauth: Record<string, string>;
  accessToken?: AccessToken;
  requestToken?: RequestToken;
}

interface Route {
  method: 'GET' | 'POST' | 'PUT';
  auth: AuthNeed;
  handle: (ctx: Ctx) => Promise<void> | void;
}

const CONTENT_TYPES: Record<ImageFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
};
const EXTENSIONS: Record<ImageFormat, string> = { jpeg: 'jpg', png: 'png', gif: 'gif' };
/** The banner sizes X renders (`<profile_banner_url>/<name>`), as users/profile_banner.json lists them. */
const BANNER_SIZES: Record<string, { w: number; h: number }> = {
  ipad: { w: 626, h: 313 },
  ipad_retina: { w: 1252, h: 626 },
  web: { w: 520, h: 260 },
  web_retina: { w: 1040, h: 520 },
  mobile: { w: 320, h: 160 },
  mobile_retina: { w: 640, h: 320 },
  '300x100': { w: 300, h: 100 },
  '600x200': { w: 600, h: 200 },
  '1500x500': { w: 1500, h: 500 },
  '1080x360': { w: 1080, h: 360 },
};

const SIZES: Record<string, number | undefined> = {
  '': undefined,
  _normal: 48,
  _bigger: 73,
  _mini: 24,
  _400x400: 400,
};

function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Adds `big` (a decimal string) and a small number without losing digits. */
function addDecimal(big: string, n: number): string {
  return (BigInt(big) + BigInt(n)).toString();
}

// ---------------------------------------------------------------------------------------------

export async function startXServer(options: XServerOptions = {}): Promise<XServer> {
  const now = options.now ?? Date.now;
  const consumer = {
    key: options.consumerKey ?? `ck-${randomToken(12)}`,
    secret: options.consumerSecret ?? `cs-${randomToken(30)}`,
  };
  const windowSec = options.timestampWindowSec ?? 300;
  const processingDelayMs = options.processingDelayMs ?? 0;
  let uploadLatencyMs = options.uploadLatencyMs ?? 0;
  const readLatencyMs = options.readLatencyMs ?? 0;
  const profileWriteLatencyMs = options.profileWriteLatencyMs ?? 0;
  const downloadLatencyMs = options.downloadLatencyMs ?? 0;
  let uploadsInFlight = 0;
  let requestHook: RequestHook | undefined;
  let appBlock: { kind: AppBlockKind; scope: 'writes' | 'all' } | undefined; // issue 12: breaker
  let maxUploadsInFlight = 0;
  let rateLimit: { fraction: number; resetAfterMs: number; seen: number } | undefined;
  const userLimits = new Map<string, { limit: number; remaining: number; resetAt: number }>(); // `${userId} ${path}`

  const users = new Map<string, FakeXUser>();
  const userStates = new Map<string, UserState>();
  const requestTokens = new Map<string, RequestToken>();
  const accessTokens = new Map<string, AccessToken>();
  const nonces = new Map<string, number>();
  const faults: Array<Fault & { remaining: number }> = [];
  const uploads: Upload[] = [];
  const banners: BannerUpload[] = [];
  const graphemeSegmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
  const requests: RequestLog[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let nonceReuses = 0;
  let nextUserId = 0;
  let baseUrl = '';

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  }

  // --- users and images -------------------------------------------------------------------

  function visibleImage(state: UserState): StoredImage {
    const t = now();
    let current = state.images[0]!;
    for (const image of state.images) if (image.readyAt <= t) current = image;
    return current;
  }

  function imageUrl(userId: string, image: StoredImage, suffix = '_normal'): string {
    return `${baseUrl}/profile_images/${userId}/${image.n}${suffix}.${EXTENSIONS[image.format]}`;
  }

  function visibleBanner(state: UserState): StoredBanner | undefined {
    const t = now();
    let current: StoredBanner | undefined;
    for (const banner of state.banners) if (banner.readyAt <= t) current = banner;
    return current?.removed ? undefined : current;
  }

  function bannerUrl(userId: string, banner: StoredBanner): string {
    return `${baseUrl}/profile_banners/${userId}/${banner.n}`;
  }

  function userJson(state: UserState, image = visibleImage(state)): string {
    const { user } = state;
    const url = imageUrl(user.id, image);
    const banner = visibleBanner(state);
    const body = {
      id: '__ID__',
      id_str: user.id,
      name: user.name,
      screen_name: user.screenName,
      location: state.location,
      description: state.description,
      url: state.url === '' ? null : state.url,
      profile_image_url: url,
      profile_image_url_https: url,
      // Absent, not null, without a banner: as X sends it.
      ...(banner ? { profile_banner_url: bannerUrl(user.id, banner) } : {}),
    };
    // All digits of the id, as X sends them (they do not fit a JS number).
    return JSON.stringify(body).replace('"__ID__"', user.id);
  }

  async function originalBytes(image: StoredImage): Promise<Buffer> {
    if (image.bytes) return image.bytes;
    const c = image.defaultColor!;
    image.bytes = await sharp({
      create: { width: 400, height: 400, channels: 3, background: c },
    })
      .png()
      .toBuffer();
    return image.bytes;
  }

  function issueAccessToken(userId: string): AccessTokenPair {
    if (!users.has(userId)) throw new Error(`no user ${userId}`);
    const pair = { token: `${userId}-${randomToken(24)}`, secret: randomToken(33) };
    accessTokens.set(pair.token, { ...pair, userId });
    return pair;
  }

  function addUser(input: { screenName: string; id?: string; name?: string }): FakeXUser {
    const id = input.id ?? addDecimal('1790000000000000001', nextUserId++);
    if (!/^[1-9][0-9]*$/.test(id)) throw new Error(`user id must be decimal digits: ${id}`);
    if (users.has(id)) throw new Error(`user ${id} exists`);
    for (const u of users.values()) {
      if (u.screenName.toLowerCase() === input.screenName.toLowerCase()) {
        throw new Error(`screen name ${input.screenName} is taken`);
      }
    }
    const user: FakeXUser = {
      id,
      screenName: input.screenName,
      name: input.name ?? input.screenName,
      accessToken: { token: '', secret: '' },
    };
    users.set(id, user);
    // A distinctive solid colour per user, from the id.
    const digest = createHash('sha256').update(id).digest();
    userStates.set(id, {
      user,
      images: [
        {
          n: 1,
          format: 'png',
          readyAt: 0,
          defaultColor: { r: digest[0]!, g: digest[1]!, b: digest[2]! },
          renditions: new Map(),
        },
      ],
      nextImage: 2,
      banners: [],
      description: '',
      url: '',
      location: '',
      firstUploadSeen: false,
      rateLimitedUntil: 0,
    });
    user.accessToken = issueAccessToken(id);
    return user;
  }

  function approve(requestToken: string, userId: string): { verifier: string; redirectUrl?: string } {
    const rt = requestTokens.get(requestToken);
    if (!rt || now() - rt.createdAt > REQUEST_TOKEN_TTL_MS) {
      throw new Error(`no live request token ${requestToken}`);
    }
    if (!users.has(userId)) throw new Error(`no user ${userId}`);
    rt.userId = userId;
    if (rt.callback === 'oob') {
      rt.verifier = String(randomInt(0, 10_000_000)).padStart(7, '0');
      return { verifier: rt.verifier };
    }
    rt.verifier = randomToken(24);
    const redirect = new URL(rt.callback);
    redirect.searchParams.append('oauth_token', rt.token);
    redirect.searchParams.append('oauth_verifier', rt.verifier);
    return { verifier: rt.verifier, redirectUrl: redirect.toString() };
  }

  function revoke(userId: string): void {
    for (const [token, at] of accessTokens) if (at.userId === userId) accessTokens.delete(token);
  }

  // --- responses --------------------------------------------------------------------------

  function send(
    ctx: Pick<Ctx, 'res' | 'log'>,
    status: number,
    body: string | Buffer | object,
    headers: Record<string, string> = {},
  ): void {
    const { res, log } = ctx;
    log.status = status;
    if (res.headersSent || res.destroyed) return;
    let payload: string | Buffer;
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    if (Buffer.isBuffer(body) || typeof body === 'string') {
      payload = body;
      lower['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      payload = JSON.stringify(body);
      lower['content-type'] ??= 'application/json; charset=utf-8';
    }
    res.writeHead(status, lower);
    res.end(payload);
  }

  function sendJsonText(ctx: Ctx, status: number, json: string): void {
    send(ctx, status, json, { 'content-type': 'application/json; charset=utf-8' });
  }

  function sendError(ctx: Pick<Ctx, 'res' | 'log'>, status: number, code: ErrorCode, detail?: string): void {
    if (detail !== undefined) ctx.log.detail = detail;
    send(ctx, status, xErrorBody(code));
  }

  function sendImageError(ctx: Ctx, status: number, error: string, detail?: string): void {
    if (detail !== undefined) ctx.log.detail = detail;
    send(ctx, status, { request: ctx.path, error });
  }

  // --- OAuth verification -------------------------------------------------------------------

  /** Returns true when the request may proceed; otherwise it has been answered. */
  function authenticate(ctx: Ctx, need: Exclude<AuthNeed, 'none'>): boolean {
    const { req, log } = ctx;
    const oauth = parseOAuthHeader(req.headers.authorization);
    if (!oauth) {
      sendError(ctx, 400, 215, 'missing or malformed Authorization: OAuth header');
      return false;
    }
    log.oauthParams = oauth;
    ctx.oauth = oauth;
    for (const name of ['oauth_consumer_key', 'oauth_signature', 'oauth_signature_method', 'oauth_timestamp', 'oauth_nonce']) {
      if (!oauth[name]) {
        sendError(ctx, 400, 215, `missing ${name}`);
        return false;
      }
    }
    if (oauth.oauth_signature_method !== 'HMAC-SHA1') {
      sendError(ctx, 400, 215, `unsupported oauth_signature_method ${oauth.oauth_signature_method}`);
      return false;
    }
    if (oauth.oauth_version !== undefined && oauth.oauth_version !== '1.0') {
      sendError(ctx, 400, 215, `unsupported oauth_version ${oauth.oauth_version}`);
      return false;
    }
    if (oauth.oauth_consumer_key !== consumer.key) {
      sendError(ctx, 401, 32, 'unknown consumer key');
      return false;
    }

    let tokenSecret = '';
    const token = oauth.oauth_token;
    if (need === 'request-token' || need === 'access-token') {
      if (!token) {
        sendError(ctx, 400, 215, 'missing oauth_token');
        return false;
      }
      if (need === 'request-token') {
        const rt = requestTokens.get(token);
        if (!rt || now() - rt.createdAt > REQUEST_TOKEN_TTL_MS) {
          sendError(ctx, 401, 89, 'unknown, used or expired request token');
          return false;
        }
        ctx.requestToken = rt;
        tokenSecret = rt.secret;
      } else {
        const at = accessTokens.get(token);
        if (!at) {
          sendError(ctx, 401, 89, 'unknown or revoked access token');
          return false;
        }
        ctx.accessToken = at;
        tokenSecret = at.secret;
      }
    }

    const host = (req.headers.host ?? '').toLowerCase().replace(/:80$/, '');
    if (host === '') {
      sendError(ctx, 400, 215, 'no Host header');
      return false;
    }
    const params: Array<[string, string]> = [
      ...Object.entries(oauth).filter(([name]) => name !== 'oauth_signature' && name !== 'realm'),
      ...ctx.query,
      ...ctx.form,
    ];
    const base = signatureBaseString(req.method ?? 'GET', `http://${host}${ctx.path}`, params);
    const expected = Buffer.from(hmacSha1Signature(base, consumer.secret, tokenSecret));
    const given = Buffer.from(oauth.oauth_signature!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      sendError(ctx, 401, 32, `bad signature; expected base string: ${base.slice(0, 4000)}`);
      return false;
    }

    const timestamp = Number(oauth.oauth_timestamp);
    if (!/^\d+$/.test(oauth.oauth_timestamp!) || Math.abs(timestamp - now() / 1000) > windowSec) {
      sendError(ctx, 401, 135, `oauth_timestamp ${oauth.oauth_timestamp} is outside ±${windowSec}s`);
      return false;
    }

    const nonceKey = `${consumer.key}&${token ?? ''}&${oauth.oauth_nonce}`;
    const seenAt = nonces.get(nonceKey);
    if (seenAt !== undefined && now() - seenAt <= windowSec * 2000) {
      nonceReuses++;
      sendError(ctx, 401, 32, `nonce ${oauth.oauth_nonce} was already used`);
      return false;
    }
    nonces.set(nonceKey, now());
    if (nonces.size % 1000 === 0) {
      for (const [key, at] of nonces) if (now() - at > windowSec * 2000) nonces.delete(key);
    }
    log.authOk = true;
    return true;
  }

  // --- endpoints --------------------------------------------------------------------------

  function stateOf(ctx: Ctx): UserState {
    return userStates.get(ctx.accessToken!.userId)!;
  }

  const routes = new Map<string, Route>([
    [
      X_PATHS.requestToken,
      {
        method: 'POST',
        auth: 'consumer',
        handle(ctx) {
          const callback = ctx.oauth.oauth_callback;
          if (!callback) return sendError(ctx, 400, 215, 'missing oauth_callback');
          if (callback !== 'oob') {
            let ok = false;
            try {
              ok = ['http:', 'https:'].includes(new URL(callback).protocol);
            } catch {
              ok = false;
            }
            if (!ok) return sendError(ctx, 403, 415, `oauth_callback is neither oob nor a URL: ${callback}`);
          }
          const rt: RequestToken = {
            token: randomToken(24),
            secret: randomToken(24),
            callback,
            createdAt: now(),
          };
          requestTokens.set(rt.token, rt);
          send(
            ctx,
            200,
            formEncode({
              oauth_token: rt.token,
              oauth_token_secret: rt.secret,
              oauth_callback_confirmed: 'true',
            }),
            { 'content-type': 'text/html; charset=utf-8' },
          );
        },
      },
    ],
    [X_PATHS.authorize, { method: 'GET', auth: 'none', handle: authorizePage }],
    [X_PATHS.authenticate, { method: 'GET', auth: 'none', handle: authorizePage }],
    [
      X_PATHS.accessToken,
      {
        method: 'POST',
        auth: 'request-token',
        handle(ctx) {
          const rt = ctx.requestToken!;
          const verifier =
            ctx.oauth.oauth_verifier ??
            [...ctx.query, ...ctx.form].find(([name]) => name === 'oauth_verifier')?.[1];
          const expected = Buffer.from(rt.verifier ?? '');
          const given = Buffer.from(verifier ?? '');
          if (
            rt.verifier === undefined ||
            rt.userId === undefined ||
            expected.length !== given.length ||
            !timingSafeEqual(expected, given)
          ) {
            ctx.log.detail = 'wrong or missing oauth_verifier';
            return send(ctx, 401, 'Error processing your OAuth request: Invalid oauth_verifier parameter');
          }
          requestTokens.delete(rt.token);
          const user = users.get(rt.userId)!;
          const pair = issueAccessToken(user.id);
          send(
            ctx,
            200,
            formEncode({
              oauth_token: pair.token,
              oauth_token_secret: pair.secret,
              user_id: user.id,
              screen_name: user.screenName,
            }),
            { 'content-type': 'text/html; charset=utf-8' },
          );
        },
      },
    ],
    [X_PATHS.updateProfileImage, { method: 'POST', auth: 'access-token', handle: updateProfileImage }],
    [X_PATHS.updateProfileBanner, { method: 'POST', auth: 'access-token', handle: updateProfileBanner }],
    [X_PATHS.updateProfile, { method: 'POST', auth: 'access-token', handle: updateProfile }],
    [X_PATHS.profileBanner, { method: 'GET', auth: 'access-token', handle: profileBanner }],
    [X_PATHS.removeProfileBanner, { method: 'POST', auth: 'access-token', handle: removeProfileBanner }],
    [
      X_PATHS.verifyCredentials,
      {
        method: 'GET',
        auth: 'access-token',
        handle: (ctx) => sendJsonText(ctx, 200, userJson(stateOf(ctx))),
      },
    ],
    [
      X_PATHS.usersShow,
      {
        method: 'GET',
        auth: 'access-token',
        handle(ctx) {
          const state = namedUser(ctx);
          if (state) sendJsonText(ctx, 200, userJson(state));
        },
      },
    ],
    [
      X_PATHS.invalidateToken,
      {
        method: 'POST',
        auth: 'access-token',
        handle(ctx) {
          accessTokens.delete(ctx.accessToken!.token);
          send(ctx, 200, { access_token: ctx.accessToken!.token });
        },
      },
    ],
  ]);

  /** The user a read names with `user_id` or `screen_name`; undefined when it has been answered (403/404 code 50). */
  function namedUser(ctx: Ctx): UserState | undefined {
    const param = (name: string) => ctx.query.find(([n]) => n === name)?.[1];
    const userId = param('user_id');
    const screenName = param('screen_name')?.toLowerCase();
    if (userId === undefined && screenName === undefined) {
      sendError(ctx, 403, 50, `${ctx.path} needs user_id or screen_name`);
      return undefined;
    }
    const state = [...userStates.values()].find((s) =>
      userId !== undefined ? s.user.id === userId : s.user.screenName.toLowerCase() === screenName,
    );
    if (!state) sendError(ctx, 404, 50);
    return state;
  }

  function authorizePage(ctx: Ctx): void {
    const token = ctx.query.find(([name]) => name === 'oauth_token')?.[1] ?? '';
    const rt = requestTokens.get(token);
    const html = 'text/html; charset=utf-8';
    if (!rt || now() - rt.createdAt > REQUEST_TOKEN_TTL_MS) {
      return send(
        ctx,
        400,
        '<!doctype html><title>X</title><p>Whoa there! There is no request token for this page.</p>',
        { 'content-type': html },
      );
    }
    send(
      ctx,
      200,
      `<!doctype html><title>Authorize app</title>` +
        `<h1>Authorize this app to use your account?</h1>` +
        `<form method="post"><input type="hidden" name="oauth_token" value="${escapeHtml(token)}">` +
        `<button>Authorize app</button></form>`,
      { 'content-type': html },
    );
  }

  async function updateProfileImage(ctx: Ctx): Promise<void> {
    const state = stateOf(ctx);

    if (rateLimit) {
      let limited = now() < state.rateLimitedUntil;
      if (!state.firstUploadSeen) {
        state.firstUploadSeen = true;
        const k = ++rateLimit.seen;
        if (Math.floor(k * rateLimit.fraction) > Math.floor((k - 1) * rateLimit.fraction)) {
          state.rateLimitedUntil = now() + rateLimit.resetAfterMs;
          limited = true;
        }
      }
      if (limited) {
        ctx.log.detail = 'rate limited (rateLimitFirstAttempts)';
        return send(ctx, 429, xErrorBody(88), {
          'x-rate-limit-limit': '75',
          'x-rate-limit-remaining': '0',
          'x-rate-limit-reset': String(Math.ceil(state.rateLimitedUntil / 1000)),
        });
      }
    }

    uploadsInFlight++;
    maxUploadsInFlight = Math.max(maxUploadsInFlight, uploadsInFlight);
    try {
      await receiveUpload(ctx, state);
    } finally {
      uploadsInFlight--;
    }
  }

  type InspectedUpload = {
    bytes: Buffer;
    encoding: Upload['encoding'];
    format: ImageFormat;
    width: number;
    height: number;
    /** The other multipart fields, as text (parameters may travel there too). */
    fields: Array<[string, string]>;
  };

  /** How an upload endpoint reads its image and refuses one, as X does on that endpoint. */
  interface UploadRules {
    field: 'image' | 'banner' | 'media';
    /** A missing field (or a body that is no form at all). */
    missing: (detail: string) => void;
    maxBytes: number;
    tooLarge: (bytes: number) => void;
    /** Not base64, not an image, a format X does not take, or one that does not decode. */
    unreadable: (detail: string) => void;
    /** Decoding stops past this many pixels (sharp's limitInputPixels): refused as too large. */
    maxPixels?: number;
  }

  const avatarRules = (ctx: Ctx): UploadRules => ({
    field: 'image',
    missing: (detail) => sendError(ctx, 400, 38, detail),
    maxBytes: MAX_IMAGE_BYTES - 1, // 700 KB or more is refused
    tooLarge: (bytes) => sendImageError(ctx, 400, 'Image file size must be <= 700KB', `${bytes} bytes`),
    unreadable: (detail) => sendImageError(ctx, 422, 'media type unrecognized.', detail),
  });

  const bannerRules = (ctx: Ctx): UploadRules => ({
    field: 'banner',
    missing: (detail) => sendImageError(ctx, 400, BANNER_ERRORS.missing, detail),
    maxBytes: MAX_BANNER_BYTES,
    tooLarge: (bytes) => sendImageError(ctx, 422, BANNER_ERRORS.tooLarge, `${bytes} bytes`),
    unreadable: (detail) => sendImageError(ctx, 400, BANNER_ERRORS.unprocessable, detail),
    // 1500x500 is what X shows; 40 megapixels is far above any real header and decodes in under a second.
    maxPixels: 40_000_000,
  });

  /** The uploaded image, checked as X checks it; or the refusal to send. */
  async function inspectUpload(ctx: Ctx, rules: UploadRules): Promise<InspectedUpload | (() => void)> {
    const { field } = rules;
    let bytes: Buffer;
    let encoding: Upload['encoding'];
    let fields: Array<[string, string]> = [];
    const type = mediaType(ctx.req);
    if (type === 'multipart/form-data') {
      const boundary = multipartBoundary(ctx.req.headers['content-type'] ?? '');
      if (!boundary) return () => rules.missing('multipart without a boundary');
      const parts = parseMultipart(ctx.body, boundary);
      if (typeof parts === 'string') return () => rules.missing(`malformed multipart: ${parts}`);
      const images = parts.filter((p) => p.name === field);
      if (images.length !== 1) return () => rules.missing(`${images.length} parts named ${field}`);
      bytes = Buffer.from(images[0]!.data);
      encoding = 'multipart';
      fields = parts.filter((p) => p.name !== field).map((p) => [p.name, p.data.toString('utf8')]);
    } else if (type === 'application/x-www-form-urlencoded') {
      const images = ctx.form.filter(([name]) => name === field);
      if (images.length !== 1) return () => rules.missing(`${images.length} form fields named ${field}`);
      const base64 = images[0]![1];
      if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
        return () => rules.unreadable(`${field} is not plain base64`);
      }
      bytes = Buffer.from(base64, 'base64');
      encoding = 'base64';
    } else {
      return () => rules.missing(`unsupported content-type ${type || '(none)'}`);
    }

    if (bytes.length > rules.maxBytes) return () => rules.tooLarge(bytes.length);
    let format: ImageFormat;
    let width: number;
    let height: number;
    const limits = rules.maxPixels === undefined ? {} : { limitInputPixels: rules.maxPixels };
    try {
      const meta = await sharp(bytes, limits).metadata();
      if (meta.format !== 'jpeg' && meta.format !== 'png' && meta.format !== 'gif') {
        return () => rules.unreadable(`format ${meta.format}`);
      }
      if (rules.maxPixels !== undefined && (meta.width ?? 0) * (meta.height ?? 0) > rules.maxPixels) {
        return () => rules.tooLarge(bytes.length);
      }
      // Decode fully (first frame), so truncated or corrupt files are refused too.
      const { info } = await sharp(bytes, limits).raw().toBuffer({ resolveWithObject: true });
      format = meta.format;
      width = info.width;
      height = info.height;
    } catch (error) {
      return () => rules.unreadable(`sharp: ${(error as Error).message}`);
    }
    return { bytes, encoding, format, width, height, fields };
  }

  async function receiveUpload(ctx: Ctx, state: UserState): Promise<void> {
    // X answers `uploadLatencyMs` after the request, its own checks included: checked first and then waited
    // for, they added about 40 ms to each of 32 uploads at once, and the benchmarks' "200 ms" was 240.
    const answerAt = performance.now() + uploadLatencyMs;
    const inspected = await inspectUpload(ctx, avatarRules(ctx));
    if (uploadLatencyMs > 0) await sleep(Math.max(0, answerAt - performance.now()));
    if (typeof inspected === 'function') return inspected();
    const { bytes, encoding, format, width, height } = inspected;
    const answer = userJson(state); // still the old picture: X processes asynchronously
    const hookAfter = requestHook; // the upload is applied below, then the hook sees it before the answer
    uploads.push({
      userId: state.user.id,
      screenName: state.user.screenName,
      bytes,
      format,
      width,
      height,
      encoding,
      at: now(),
      api: 'v1.1',
    });
    state.images.push({
      n: state.nextImage++,
      format,
      bytes,
      readyAt: now() + processingDelayMs,
      renditions: new Map(),
    });
    if (hookAfter && (await hookAfter({ method: 'POST', path: X_PATHS.updateProfileImage, userId: state.user.id, stage: 'applied' })) === 'drop') return void ctx.res.destroy();
    sendJsonText(ctx, 200, answer);
  }

  /** The four region parameters (query or body) when all are given as whole numbers; X uses them together. */
  function regionOf(params: Array<[string, string]>): BannerUpload['region'] {
    const param = (name: string) => params.find(([n]) => n === name)?.[1];
    const values = ['width', 'height', 'offset_left', 'offset_top'].map(param);
    if (!values.every((value) => value !== undefined && /^\d{1,6}$/.test(value))) return undefined;
    const [width, height, offsetLeft, offsetTop] = values.map(Number) as [number, number, number, number];
    return { width, height, offsetLeft, offsetTop };
  }

  async function updateProfileBanner(ctx: Ctx): Promise<void> {
    const state = stateOf(ctx);
    const answerAt = performance.now() + uploadLatencyMs; // as an avatar upload: the checks are inside the latency
    const inspected = await inspectUpload(ctx, bannerRules(ctx));
    if (uploadLatencyMs > 0) await sleep(Math.max(0, answerAt - performance.now()));
    if (typeof inspected === 'function') return inspected();
    const { bytes, encoding, format, width, height, fields } = inspected;
    const region = regionOf([...ctx.query, ...ctx.form, ...fields]);
    let stored = bytes;
    if (region) {
      if (region.width === 0 || region.height === 0 || region.offsetLeft + region.width > width || region.offsetTop + region.height > height) {
        return sendImageError(ctx, 422, BANNER_ERRORS.tooLarge, `region ${JSON.stringify(region)} is not inside ${width}x${height}`);
      }
      stored = await sharp(bytes).extract({ left: region.offsetLeft, top: region.offsetTop, width: region.width, height: region.height }).toFormat(format === 'gif' ? 'png' : format).toBuffer();
    }
    const hookAfter = requestHook;
    banners.push({ userId: state.user.id, bytes, format, width, height, ...(region ? { region } : {}), encoding, at: now() });
    state.banners.push({ n: state.nextImage++, readyAt: now() + processingDelayMs, bytes: stored, format: region && format === 'gif' ? 'png' : format, renditions: new Map() });
    if (hookAfter && (await hookAfter({ method: 'POST', path: X_PATHS.updateProfileBanner, userId: state.user.id, stage: 'applied' })) === 'drop') return void ctx.res.destroy();
    send(ctx, 201, ''); // X answers 200, 201 or 202 with no user object
  }

  /** X answers 200 with an empty body, and the banner is gone at once (with or without one before). */
  function removeProfileBanner(ctx: Ctx): void {
    const state = stateOf(ctx);
    state.banners.push({ n: state.nextImage++, readyAt: now(), bytes: Buffer.alloc(0), format: 'png', renditions: new Map(), removed: true });
    send(ctx, 200, '');
  }

  /** Graphemes, counted independently of src/profile/text.ts; stops past `limit`. */
  function overLimit(value: string, limit: number): boolean {
    // A grapheme is rarely over 16 UTF-16 units (a family with skin tones is 15): a longer value is over any
    // way it is counted, and the segmenter is never handed more than this (its cost grows with the string).
    if (value.length > limit * 16) return true;
    let count = 0;
    for (const _ of graphemeSegmenter.segment(value)) if (++count > limit) return true;
    return false;
  }

  async function updateProfile(ctx: Ctx): Promise<void> {
    const state = stateOf(ctx);
    if (profileWriteLatencyMs > 0) await sleep(profileWriteLatencyMs);
    const param = (name: string) => [...ctx.query, ...ctx.form].find(([n]) => n === name)?.[1];
    const values: Partial<Record<keyof typeof PROFILE_LIMITS, string>> = {};
    for (const field of Object.keys(PROFILE_LIMITS) as Array<keyof typeof PROFILE_LIMITS>) {
      const value = param(field);
      if (value === undefined) continue;
      if (overLimit(value, PROFILE_LIMITS[field])) return sendError(ctx, 403, 120, `${field} is over ${PROFILE_LIMITS[field]} graphemes`);
      values[field] = value;
    }
    // Nothing changes unless every value fits; parameters X does not know are ignored.
    if (values.name !== undefined) state.user.name = values.name;
    if (values.description !== undefined) state.description = values.description;
    if (values.url !== undefined) state.url = values.url;
    if (values.location !== undefined) state.location = values.location;
    sendJsonText(ctx, 200, userJson(state));
  }

  function profileBanner(ctx: Ctx): void {
    const state = namedUser(ctx);
    if (!state) return;
    const banner = visibleBanner(state);
    if (!banner) return sendError(ctx, 404, 34, 'no banner');
    const url = bannerUrl(state.user.id, banner);
    const sizes = Object.fromEntries(Object.entries(BANNER_SIZES).map(([name, size]) => [name, { ...size, url: `${url}/${name}` }]));
    send(ctx, 200, { sizes });
  }

  async function serveBanner(ctx: Ctx, match: RegExpExecArray): Promise<void> {
    const [, userId, n, size] = match;
    const banner = userStates.get(userId ?? '')?.banners.find((b) => String(b.n) === n);
    const dimensions = BANNER_SIZES[size ?? ''];
    if (!banner || banner.readyAt > now() || !dimensions) return send(ctx, 404, 'Not Found');
    let rendition = banner.renditions.get(size!);
    if (!rendition) {
      rendition = sharp(banner.bytes).resize(dimensions.w, dimensions.h, { fit: 'cover' }).jpeg().toBuffer();
      banner.renditions.set(size!, rendition);
    }
    send(ctx, 200, await rendition, { 'content-type': 'image/jpeg' });
  }

  async function serveProfileImage(ctx: Ctx, match: RegExpExecArray): Promise<void> {
    const [, userId, n, suffix = '', ext] = match;
    const state = userStates.get(userId ?? '');
    const image = state?.images.find((i) => String(i.n) === n);
    if (!image || image.readyAt > now() || EXTENSIONS[image.format] !== ext) {
      return send(ctx, 404, 'Not Found');
    }
    const size = SIZES[suffix];
    let rendition = image.renditions.get(suffix);
    if (!rendition) {
      rendition = originalBytes(image).then((original) =>
        size === undefined
          ? original
          : sharp(original).resize(size, size, { fit: 'cover' }).toFormat(image.format).toBuffer(),
      );
      image.renditions.set(suffix, rendition);
    }
    send(ctx, 200, await rendition, { 'content-type': CONTENT_TYPES[image.format] });
  }

  // --- issue 12: the v2 upload path ---------------------------------------------------------
  // Request shapes as docs.x.com documents them; OAuth 1.0a user context, checked by `authenticate` like
  // every route (a multipart or JSON body is not part of the signature: only oauth_* and the query are).

  interface Media {
    ownerId: string;
    bytes: Buffer;
    format: ImageFormat;
    width: number;
    height: number;
    expiresAt: number;
  }
  const media = new Map<string, Media>();
  let nextMedia = 1_800_000_000_000_000_000n;
  let v1Off: { answer: 410 | 404 | 453; paths: readonly string[] } | undefined;

  /** v2's problem document. */
  function sendProblem(ctx: Ctx, status: number, title: string, detail: string): void {
    ctx.log.detail = detail;
    const type = status === 400 ? 'https://api.twitter.com/2/problems/invalid-request' : 'about:blank';
    send(ctx, status, { title, detail, type, status });
  }

  /** `{"data":{…}}` with the user.fields asked for (id, name and username always, as X does). */
  function v2User(state: UserState, fields: readonly string[]): Record<string, string> {
    const banner = visibleBanner(state);
    const all: Record<string, string | undefined> = {
      profile_image_url: imageUrl(state.user.id, visibleImage(state)),
      profile_banner_url: banner && bannerUrl(state.user.id, banner),
      description: state.description,
      url: state.url,
      location: state.location,
    };
    const data: Record<string, string> = { id: state.user.id, name: state.user.name, username: state.user.screenName };
    for (const field of fields) if (all[field] !== undefined) data[field] = all[field];
    return data;
  }

  const DEFAULT_ANSWER_FIELDS = ['profile_image_url', 'description', 'url', 'location'];

  async function mediaUpload(ctx: Ctx): Promise<void> {
    const state = stateOf(ctx);
    const answerAt = performance.now() + uploadLatencyMs; // as update_profile_image: the image travels here
    const invalid = (detail: string) => () => sendProblem(ctx, 400, 'Invalid Request', detail);
    const inspected = await inspectUpload(ctx, {
      field: 'media',
      missing: (detail) => invalid(`media: ${detail}`)(),
      maxBytes: MAX_MEDIA_IMAGE_BYTES,
      tooLarge: (bytes) => invalid(`media is ${bytes} bytes, over ${MAX_MEDIA_IMAGE_BYTES}`)(),
      unreadable: (detail) => invalid(`media could not be processed: ${detail}`)(),
    });
    if (uploadLatencyMs > 0) await sleep(Math.max(0, answerAt - performance.now()));
    if (typeof inspected === 'function') return inspected();
    if (inspected.encoding !== 'multipart') return invalid('media must be sent as multipart/form-data')();
    const field = (name: string) => inspected.fields.find(([n]) => n === name)?.[1];
    const category = field('media_category');
    if (category !== undefined && !['tweet_image', 'dm_image', 'amplify_image'].includes(category)) return invalid(`media_category ${category} is not an image category`)();
    const type = field('media_type');
    if (type !== undefined && type !== CONTENT_TYPES[inspected.format]) return invalid(`media_type ${type} is not the ${inspected.format} that was sent`)();
    const id = String(nextMedia++);
    media.set(id, { ownerId: state.user.id, bytes: inspected.bytes, format: inspected.format, width: inspected.width, height: inspected.height, expiresAt: now() + MEDIA_TTL_MS });
    send(ctx, 200, { data: { id, media_key: `3_${id}`, size: inspected.bytes.length, expires_after_secs: MEDIA_TTL_MS / 1000, image: { image_type: CONTENT_TYPES[inspected.format], w: inspected.width, h: inspected.height } } });
  }

  /** The JSON object of a v2 body, or undefined when it has been answered 400. */
  function jsonBody(ctx: Ctx): Record<string, unknown> | undefined {
    if (mediaType(ctx.req) !== 'application/json') return void sendProblem(ctx, 400, 'Invalid Request', `content-type ${mediaType(ctx.req) || '(none)'} is not application/json`);
    try {
      const value: unknown = JSON.parse(ctx.body.toString('utf8'));
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // answered below
    }
    return void sendProblem(ctx, 400, 'Invalid Request', 'the body is not a JSON object');
  }

  async function v2ProfileImage(ctx: Ctx): Promise<void> {
    const state = stateOf(ctx);
    const body = jsonBody(ctx);
    if (!body) return;
    const id = body.media_id;
    const item = typeof id === 'string' ? media.get(id) : undefined;
    // Another user's media id, or an expired one, is as unknown as one never issued.
    if (typeof id !== 'string' || !item || item.ownerId !== state.user.id || item.expiresAt <= now()) {
      return sendProblem(ctx, 400, 'Invalid Request', `media_id ${JSON.stringify(id ?? null)} is missing, unknown, expired or not this user's`);
    }
    // X crops to a centred square; the bot sends a square, so the bytes are kept as they are.
    const answer = v2User(state, DEFAULT_ANSWER_FIELDS); // still the old picture: X processes asynchronously
    const hookAfter = requestHook;
    uploads.push({ userId: state.user.id, screenName: state.user.screenName, bytes: item.bytes, format: item.format, width: item.width, height: item.height, encoding: 'multipart', at: now(), api: 'v2' });
    state.images.push({ n: state.nextImage++, format: item.format, bytes: item.bytes, readyAt: now() + processingDelayMs, renditions: new Map() });
    if (hookAfter && (await hookAfter({ method: 'PUT', path: X_PATHS.v2ProfileImage, userId: state.user.id, stage: 'applied' })) === 'drop') return void ctx.res.destroy();
    send(ctx, 200, { data: answer });
  }

  async function v2UpdateMe(ctx: Ctx): Promise<void> {
    const state = stateOf(ctx);
    if (profileWriteLatencyMs > 0) await sleep(profileWriteLatencyMs);
    const body = jsonBody(ctx);
    if (!body) return;
    const values: Partial<Record<keyof typeof PROFILE_LIMITS, string>> = {};
    for (const [field, value] of Object.entries(body)) {
      if (!(field in PROFILE_LIMITS)) return sendProblem(ctx, 400, 'Invalid Request', `${field} is not a field of PUT /2/users/me`);
      const name = field as keyof typeof PROFILE_LIMITS;
      if (typeof value !== 'string') return sendProblem(ctx, 400, 'Invalid Request', `${field} is not a string`);
      if (overLimit(value, PROFILE_LIMITS[name])) return sendProblem(ctx, 400, 'Invalid Request', `${field} is over ${PROFILE_LIMITS[name]} graphemes`);
      values[name] = value;
    }
    if (Object.keys(values).length === 0) return sendProblem(ctx, 400, 'Invalid Request', 'no field to change');
    if (values.name !== undefined) state.user.name = values.name;
    if (values.description !== undefined) state.description = values.description;
    if (values.url !== undefined) state.url = values.url;
    if (values.location !== undefined) state.location = values.location;
    send(ctx, 200, { data: v2User(state, DEFAULT_ANSWER_FIELDS) });
  }

  async function v2Me(ctx: Ctx): Promise<void> {
    if (readLatencyMs > 0) await sleep(readLatencyMs);
    const fields = ctx.query.find(([name]) => name === 'user.fields')?.[1]?.split(',') ?? [];
    send(ctx, 200, { data: v2User(stateOf(ctx), fields) });
  }

  const v2Routes = new Map<string, Route>([
    [`POST ${X_PATHS.mediaUpload}`, { method: 'POST', auth: 'access-token', handle: mediaUpload }],
    [`PUT ${X_PATHS.v2ProfileImage}`, { method: 'PUT', auth: 'access-token', handle: v2ProfileImage }],
    [`PUT ${X_PATHS.v2Me}`, { method: 'PUT', auth: 'access-token', handle: v2UpdateMe }],
    [`GET ${X_PATHS.v2Me}`, { method: 'GET', auth: 'access-token', handle: v2Me }],
  ]);

  // --- faults -----------------------------------------------------------------------------

  function takeFault(method: string, path: string): Fault | undefined {
    const index = faults.findIndex((f) => {
      if (f.method !== undefined && f.method.toUpperCase() !== method) return false;
      if (typeof f.path === 'string') return f.path === path;
      f.path.lastIndex = 0;
      return f.path.test(path);
    });
    if (index === -1) return undefined;
    const fault = faults[index]!;
    fault.remaining--;
    if (fault.remaining <= 0) faults.splice(index, 1);
    return fault;
  }

  /** Returns true when the fault answered (or swallowed) the request. */
  async function applyFault(ctx: Ctx, fault: Fault): Promise<boolean> {
    ctx.log.detail = 'fault';
    if (fault.hangMs !== undefined && fault.hangMs > 0) {
      if (!Number.isFinite(fault.hangMs)) return true; // never answer
      await sleep(fault.hangMs);
    }
    if (fault.destroy) {
      ctx.log.status = 0;
      ctx.req.socket.destroy();
      return true;
    }
    if (fault.redirectTo !== undefined) {
      const status = fault.status !== undefined && fault.status >= 300 && fault.status < 400 ? fault.status : 302;
      send(ctx, status, fault.body ?? '', { ...fault.headers, location: fault.redirectTo });
      return true;
    }
    if (fault.status !== undefined) {
      send(ctx, fault.status, fault.body ?? '', fault.headers);
      return true;
    }
    return false;
  }

  // --- request pipeline -------------------------------------------------------------------

  function readBody(req: IncomingMessage): Promise<Buffer | 'too-large' | 'aborted'> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let settled = false;
      const settle = (value: Buffer | 'too-large' | 'aborted') => {
        if (!settled) {
          settled = true;
          resolve(value);
        }
      };
      req.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total <= MAX_BODY_BYTES) chunks.push(chunk);
        // Drain (and drop) an oversized body so the client can read the 413; give up on absurd ones.
        else if (total > 8 * MAX_BODY_BYTES) {
          req.socket.destroy();
          settle('aborted');
        }
      });
      req.on('end', () => settle(total > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks)));
      req.on('error', () => settle('aborted'));
      req.on('close', () => settle('aborted'));
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, log: RequestLog): Promise<void> {
    const { method, path } = log;
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const ctx: Ctx = { req, res, log, path, query: [], body: Buffer.alloc(0), form: [], oauth: {} };

    try {
      ctx.query = q === -1 ? [] : parseForm(rawUrl.slice(q + 1));
      log.query = ctx.query;
    } catch {
      return sendError(ctx, 400, 215, 'malformed percent-encoding in the query string');
    }
    if ((path === X_PATHS.updateProfileImage || path === X_PATHS.updateProfileBanner) && ctx.query.some(([name]) => name === 'image' || name === 'banner')) {
      log.detail = 'image in the query string';
      return send(ctx, 431, 'Request Header Fields Too Large');
    }

    const body = await readBody(req);
    if (body === 'aborted') return;
    if (body === 'too-large') {
      log.detail = 'body over 10 MB';
      return send(ctx, 413, 'Payload Too Large', { connection: 'close' });
    }
    ctx.body = body;
    if (mediaType(req) === 'application/x-www-form-urlencoded') {
      try {
        ctx.form = parseForm(body.toString('utf8'));
      } catch {
        return sendError(ctx, 400, 215, 'malformed percent-encoding in the form body');
      }
    }

    const switchedOff = v1Off && v1Off.paths.includes(path) ? v1Off.answer : undefined;
    const route = v2Routes.get(`${method} ${path}`) ?? routes.get(path);
    const imageMatch = /^\/profile_images\/(\d+)\/(\d+)(_normal|_bigger|_mini|_400x400)?\.(png|jpg|gif)$/.exec(path);
    const auth: AuthNeed = route && route.method === method ? route.auth : 'none';
    if (auth !== 'none' && !authenticate(ctx, auth)) return;

    if (switchedOff !== undefined) {
      ctx.log.detail = `v1.1 switched off (${switchedOff})`;
      return switchedOff === 453 ? sendError(ctx, 403, 453) : sendError(ctx, switchedOff, switchedOff === 410 ? 68 : 34);
    }
    if (route && route.method === method && ctx.accessToken && !countRateLimit(ctx, ctx.accessToken.userId)) return;
    const fault = takeFault(method, path);
    if (fault && (await applyFault(ctx, fault))) return;
    if (appBlock && auth !== 'none' && (appBlock.scope === 'all' || (method !== 'GET' && X_WRITE_PATHS.includes(path)))) {
      return void (await applyFault(ctx, xFaults.appBlocked(path, appBlock.kind)));
    }
    if (requestHook && (await requestHook({ method, path, userId: ctx.accessToken?.userId, stage: 'received' })) === 'drop') return void ctx.res.destroy();

    if (route && route.method === method) {
      if (readLatencyMs > 0 && (path === X_PATHS.verifyCredentials || path === X_PATHS.usersShow)) await sleep(readLatencyMs);
      return route.handle(ctx);
    }
    if (imageMatch && method === 'GET') {
      if (downloadLatencyMs > 0) await sleep(downloadLatencyMs);
      return serveProfileImage(ctx, imageMatch);
    }
    const bannerMatch = /^\/profile_banners\/(\d+)\/(\d+)\/([a-z0-9_]+)$/.exec(path);
    if (bannerMatch && method === 'GET') return serveBanner(ctx, bannerMatch);
    sendError(ctx, 404, 34);
  }

  // --- issue 12: per-user, per-endpoint rate limits -----------------------------------------

  /** Spends one call of the user's limit on this endpoint, with its headers on the answer; false (answered 429) at 0. */
  function countRateLimit(ctx: Ctx, userId: string): boolean {
    const key = `${userId} ${ctx.path}`;
    let limit = userLimits.get(key);
    if (!limit || limit.resetAt <= now()) userLimits.set(key, (limit = { limit: DEFAULT_RATE_LIMIT, remaining: DEFAULT_RATE_LIMIT, resetAt: now() + RATE_LIMIT_WINDOW_MS }));
    const exhausted = limit.remaining <= 0;
    if (!exhausted) limit.remaining -= 1;
    const headers = { 'x-rate-limit-limit': String(limit.limit), 'x-rate-limit-remaining': String(limit.remaining), 'x-rate-limit-reset': String(Math.ceil(limit.resetAt / 1000)) };
    for (const [name, value] of Object.entries(headers)) ctx.res.setHeader(name, value);
    if (exhausted) sendError(ctx, 429, 88, 'rate limit exhausted (setRateLimit)');
    return !exhausted;
  }

  const server: Server = createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const log: RequestLog = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: q === -1 ? rawUrl : rawUrl.slice(0, q),
      query: [],
      status: 0,
      authOk: false,
      oauthParams: null,
      at: now(),
    };
    requests.push(log);
    handle(req, res, log).catch((error: unknown) => {
      try {
        sendError({ res, log }, 500, 131, `server error: ${(error as Error)?.message}`);
      } catch {
        res.destroy();
      }
    });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return void socket.destroy();
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('x-server: no TCP address');
  baseUrl = `http://127.0.0.1:${address.port}`;

  return {
    url: baseUrl,
    consumer,
    users,
    uploads,
    banners,
    requests,
    get nonceReuses() {
      return nonceReuses;
    },
    addUser,
    issueAccessToken,
    approve,
    revoke,
    profileImageUrl(userId) {
      const state = userStates.get(userId);
      if (!state) throw new Error(`no user ${userId}`);
      return imageUrl(userId, visibleImage(state));
    },
    profileBannerUrl(userId) {
      const state = userStates.get(userId);
      if (!state) throw new Error(`no user ${userId}`);
      const banner = visibleBanner(state);
      return banner && bannerUrl(userId, banner);
    },
    profile(userId) {
      const state = userStates.get(userId);
      if (!state) throw new Error(`no user ${userId}`);
      return { name: state.user.name, description: state.description, url: state.url, location: state.location };
    },
    setProfile(userId, fields) {
      const state = userStates.get(userId);
      if (!state) throw new Error(`no user ${userId}`);
      if (fields.name !== undefined) state.user.name = fields.name;
      if (fields.description !== undefined) state.description = fields.description;
    },
    // issue 12: hand changes
    setProfileImage(userId, image) {
      const state = userStates.get(userId);
      if (!state) throw new Error(`no user ${userId}`);
      state.images.push({ n: state.nextImage++, format: image.format, bytes: image.bytes, readyAt: now(), renditions: new Map() });
    },
    fail(fault) {
      faults.push({ ...fault, remaining: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    setUploadLatency(ms) {
      uploadLatencyMs = ms;
    },
    setRequestHook(hook) {
      requestHook = hook;
    },
    get maxUploadsInFlight() {
      return maxUploadsInFlight;
    },
    resetMaxUploadsInFlight() {
      maxUploadsInFlight = uploadsInFlight;
    },
    setRateLimit(userId, endpoint, { remaining, resetAt, limit }) {
      userLimits.set(`${userId} ${endpoint}`, { limit: limit ?? DEFAULT_RATE_LIMIT, remaining, resetAt });
    },
    rateLimitFirstAttempts({ fraction, resetAfterMs }) {
      rateLimit = { fraction: Math.min(1, Math.max(0, fraction)), resetAfterMs, seen: 0 };
    },
    switchOffV1(answer, paths = [X_PATHS.updateProfileImage]) {
      v1Off = answer === undefined ? undefined : { answer, paths };
    },
    blockApp(kind, scope = 'writes') {
      appBlock = { kind, scope };
    },
    recoverApp() {
      appBlock = undefined;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
