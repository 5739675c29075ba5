/**
 * The X client: OAuth 1.0a signed requests sent with undici. It knows nothing about Discord or storage.
 *
 * Every request signs the exact URL it sends, never follows a redirect, has a connect timeout and a
 * whole-request deadline, and travels over one keep-alive pool. Transient failures (5xx, 130/131,
 * network) are retried up to 3 times with exponential backoff and full jitter; everything else is
 * returned to the caller at once as a typed XApiError.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type Dispatcher } from 'undici';
import { z } from 'zod';
import { createSigner, encodeQuery, type Credentials, type Signer } from './oauth.js';
import { XApiError, errorFromResponse, networkError, profileErrorFromResponse } from './errors.js';
import { checkProfileText, type ProfileText } from '../profile/text.js';
import { truncate } from '../text.js';
import type { Logger } from '../log.js';
import { createProfileApiMode, memoryRecord, v1Gone, type ProfileApi, type ProfileApiMode } from './profile-api.js';
import { xUserKey } from './user-key.js';

export type { Credentials } from './oauth.js';

export interface XClientOptions {
  /** https://api.x.com by default; /oauth/* and /1.1/* hang off it. */
  apiUrl: string;
  consumer: Credentials;
  /** How long X needs before the new image URL shows up. */
  processingDelayMs: number;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** How many times a transient failure is retried (3 by default). */
  retries?: number;
  backoffBaseMs?: number;
  /** Injected in tests; one keep-alive Agent is created otherwise. */
  dispatcher?: Dispatcher;
  signer?: Signer;
  wait?: (ms: number) => Promise<unknown>;
  /** Each request is logged at debug level: method, path, status and duration, never a credential. */
  logger?: Logger;
  /** A response body longer than this is not read (1 MB by default; X's answers are a few KB). */
  maxResponseBytes?: number;
  /** Told of every request sent (each retry is one): the bot's metrics. */
  observe?: (request: XRequestObservation) => void;
  /** Which API sets the avatar, name and bio (X_PROFILE_API); v1.1 alone by default. */
  profileApi?: ProfileApiMode;
}

/** One request to X: `endpoint` is the path as this client writes it (no ids: those travel in the query or
 *  the body), `status` undefined when no answer came, `rateLimitRemaining` X's x-rate-limit-remaining,
 *  `rateLimitLimit` its x-rate-limit-limit, `rateLimitResetAt` its x-rate-limit-reset (ms since the epoch),
 *  `method` the HTTP method (X limits each method of a path apart), `userKey` whose limit it was (xUserKey of the access token; none for the consumer-only OAuth calls). */
export interface XRequestObservation {
  endpoint: string;
  status: number | undefined;
  seconds: number;
  rateLimitRemaining: number | undefined;
  rateLimitLimit?: number | undefined;
  rateLimitResetAt?: number | undefined;
  userKey?: string | undefined;
  method?: string;
}

export interface RequestToken {
  token: string;
  secret: string;
}

export interface LinkedAccount {
  token: string;
  secret: string;
  userId: string;
  screenName: string;
}

export interface ProfileImageUrls {
  /** 48x48, as X returns it. */
  normal: string;
  /** 400x400, the size X shows on profiles. */
  size400: string;
  /** The original upload, no suffix. */
  original: string;
}

export interface XUser {
  id: string;
  screenName: string;
  name: string;
  profileImage: ProfileImageUrls;
  /** `profile_banner_url`: absent when the user has no banner; append a size (`/1500x500`) to load one. */
  bannerUrl?: string;
  /** The bio, website (as X returns it) and location, when X sends them. */
  description?: string;
  url?: string;
  location?: string;
}

/** users/profile_banner.json: the banner in each size X renders (`1500x500`, `600x200`, `web`, …). */
export interface ProfileBanner {
  /** The `profile_banner_url` the sizes hang off. */
  url: string;
  sizes: Record<string, { width: number; height: number; url: string }>;
}

/** update_profile_banner's optional region of the image to use, in pixels. */
export interface BannerRegion {
  width: number;
  height: number;
  offsetLeft: number;
  offsetTop: number;
}

export interface AvatarImage {
  data: Buffer;
  format: 'jpeg' | 'png' | 'gif';
}

export interface UserTokens {
  token: string;
  secret: string;
}

export interface XClient {
  requestToken(callback: string | 'oob'): Promise<RequestToken>;
  authorizeUrl(requestToken: string): string;
  accessToken(requestToken: RequestToken, verifier: string): Promise<LinkedAccount>;
  /** One upload request. X answers with the user as it was: the new URL appears once X has processed the image.
   *  A network failure after the request may have reached X is not retried (XApiError `ambiguous`). */
  uploadProfileImage(user: UserTokens, image: AvatarImage): Promise<XUser>;
  /** Upload, wait for X to process it, and return the final URLs. */
  updateProfileImage(user: UserTokens, image: AvatarImage, options?: { previousUrl?: string }): Promise<XUser>;
  verifyCredentials(user: UserTokens): Promise<XUser>;
  /** One banner upload request (multipart, raw bytes): X answers with no user; it shows the banner once processed.
   *  Refused before sending (XApiError `banner-too-large`, `banner-unprocessable`) when X would refuse it for its size.
   *  A network failure after the request may have reached X is not retried (XApiError `ambiguous`). */
  uploadProfileBanner(user: UserTokens, image: Buffer, region?: BannerRegion): Promise<void>;
  /** Upload the banner, wait for X to process it, and return the user with the new `bannerUrl`. `previousUrl`
   *  (null: there was no banner) lets it read again, twice at most, while X still shows the old one. */
  updateProfileBanner(user: UserTokens, image: Buffer, region?: BannerRegion, options?: { previousUrl?: string | null }): Promise<XUser>;
  /** update_profile: only the fields given change. Checked against X's limits first (ProfileTextError `text-too-long`). */
  updateProfile(user: UserTokens, fields: ProfileText): Promise<XUser>;
  /** Removes the banner (the original of a user who had none); removing none is no error. */
  removeProfileBanner(user: UserTokens): Promise<void>;
  /** The user's banner in every size, or undefined when they have none (X answers 404). */
  profileBanner(user: UserTokens, userId: string): Promise<ProfileBanner | undefined>;
  invalidateToken(user: UserTokens): Promise<void>;
  close(): Promise<void>;
}

/** `…/abc_normal.jpg` → the `_400x400` and original variants. */
export function profileImageUrls(normalUrl: string): ProfileImageUrls {
  const match = /^(.*)_normal(\.[A-Za-z0-9]+)?$/.exec(normalUrl);
  if (!match) return { normal: normalUrl, size400: normalUrl, original: normalUrl };
  const [, stem, extension = ''] = match;
  return { normal: normalUrl, size400: `${stem}_400x400${extension}`, original: `${stem}${extension}` };
}

interface SendOptions {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  query?: Record<string, string>;
  token?: Credentials;
  oauthParams?: Record<string, string>;
  /** Signed form body. */
  form?: Record<string, string>;
  /** Unsigned multipart body. */
  multipart?: { contentType: string; body: Buffer };
  /** Unsigned JSON body (v2): only oauth_* and query parameters are signed. */
  json?: unknown;
  /** Not idempotent: a failure that may have reached X is returned, not retried (the caller looks first). */
  once?: boolean;
  /** What a failed answer means on this endpoint (errorFromResponse by default). */
  errors?: typeof errorFromResponse;
}

const MIME: Record<AvatarImage['format'], string> = { jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif' };

/** One file part, raw bytes, after any text fields: multipart fields are not signed (RFC 5849 3.4.1.3.1), only the query is. */
function multipartFile(field: string, filename: string, type: string, data: Buffer, fields: Record<string, string> = {}): { contentType: string; body: Buffer } {
  const boundary = `----avatar-bot-${randomBytes(12).toString('hex')}`;
  const text = Object.entries(fields).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`).join('');
  const head = Buffer.from(`${text}--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat([head, data, tail]) };
}

const multipartImage = (image: AvatarImage) => multipartFile('image', `avatar.${image.format === 'jpeg' ? 'jpg' : image.format}`, MIME[image.format], image.data);

/** X's banner limit (help centre, "profile images and banners"): 5 MB. */
export const MAX_BANNER_BYTES = 5 * 1024 * 1024;

// X sends many more fields; only these are read. `id` is a fallback: above 2^53 a JS number loses digits.
// A field the bot can do without is dropped when X sends it in another shape, rather than failing the call.
const optionalString = z.string().nullish().catch(undefined);
const userSchema = z.object({
  id_str: optionalString,
  id: z.number().optional().catch(undefined),
  screen_name: z.string(),
  name: optionalString,
  profile_image_url_https: z.string(),
  profile_banner_url: optionalString,
  description: optionalString,
  url: optionalString,
  location: optionalString,
});

/**
 * What X sends is held to what X itself allows (a name of 50 graphemes, a bio of 160, …; a grapheme is
 * rarely over 16 UTF-16 units) before anything uses it: a user object of up to 1 MB otherwise carried a name
 * that broke every reply showing it (Discord refuses over-long embeds) and was kept in each history entry.
 */
const X_TEXT_UNITS = { screenName: 64, name: 50 * 16, description: 160 * 16, url: 2_048, location: 30 * 16 } as const;

function parseUser(json: unknown): XUser {
  const parsed = userSchema.safeParse(json);
  const user = parsed.success ? parsed.data : undefined;
  const id = user?.id_str ?? (user?.id === undefined ? undefined : String(user.id));
  if (user === undefined || id === undefined) {
    throw new XApiError('unexpected', {}, { detail: 'user object without id, screen_name or profile_image_url_https' });
  }
  return {
    id,
    screenName: truncate(user.screen_name, X_TEXT_UNITS.screenName),
    name: truncate(user.name ?? user.screen_name, X_TEXT_UNITS.name),
    profileImage: profileImageUrls(truncate(user.profile_image_url_https, X_TEXT_UNITS.url)),
    ...(user.profile_banner_url ? { bannerUrl: truncate(user.profile_banner_url, X_TEXT_UNITS.url) } : {}),
    ...(user.description == null ? {} : { description: truncate(user.description, X_TEXT_UNITS.description) }),
    ...(user.url == null ? {} : { url: truncate(user.url, X_TEXT_UNITS.url) }),
    ...(user.location == null ? {} : { location: truncate(user.location, X_TEXT_UNITS.location) }),
  };
}

/** v2's user (`{"data":{…}}`), in v1.1's names so that parseUser holds it to the same bounds. */
const v2UserSchema = z.object({
  data: z.object({
    id: z.string(),
    username: z.string(),
    name: optionalString,
    profile_image_url: z.string(),
    profile_banner_url: optionalString,
    description: optionalString,
    url: optionalString,
    location: optionalString,
  }),
});

function parseV2User(json: unknown): XUser | undefined {
  const parsed = v2UserSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { id, username, profile_image_url, ...rest } = parsed.data.data;
  return parseUser({ ...rest, id_str: id, screen_name: username, profile_image_url_https: profile_image_url });
}

/** The fields a v2 read asks for: what XUser holds (profile_banner_url is in X's v2 User schema too). */
const V2_USER_FIELDS = 'profile_image_url,profile_banner_url,description,name,username,url,location';

const mediaSchema = z.object({ data: z.object({ id: z.string().regex(/^\d{1,20}$/) }) });

const bannerSchema = z.object({
  sizes: z.record(z.string(), z.object({ w: z.number(), h: z.number(), url: z.string() })).refine((sizes) => Object.keys(sizes).length > 0),
});

function parseBanner(json: unknown): ProfileBanner {
  const parsed = bannerSchema.safeParse(json);
  if (!parsed.success) throw new XApiError('unexpected', {}, { detail: 'profile_banner response without sizes' });
  const sizes = Object.fromEntries(Object.entries(parsed.data.sizes).map(([name, size]) => [name, { width: size.w, height: size.h, url: size.url }]));
  // Every size is `<profile_banner_url>/<size name>`.
  const [name, first] = Object.entries(sizes)[0]!;
  const url = first.url.endsWith(`/${name}`) ? first.url.slice(0, -name.length - 1) : first.url;
  return { url, sizes };
}

function regionQuery(region: BannerRegion | undefined): Record<string, string> {
  if (region === undefined) return {};
  const { width, height, offsetLeft, offsetTop } = region;
  if (![width, height, offsetLeft, offsetTop].every(Number.isSafeInteger) || width <= 0 || height <= 0 || offsetLeft < 0 || offsetTop < 0) {
    throw new RangeError(`a banner region is whole pixels, width and height above 0: ${JSON.stringify(region)}`);
  }
  return { width: String(width), height: String(height), offset_left: String(offsetLeft), offset_top: String(offsetTop) };
}

/** X's x-rate-limit-remaining (or -limit, -reset in seconds), when it is a count. */
function rateLimitRemaining(headers: Dispatcher.ResponseData['headers'] | undefined, name = 'x-rate-limit-remaining'): number | undefined {
  const value = headers?.[name];
  return typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

/** What X said of the user's rate limit on this endpoint (issue 12: the write budget holds a user at 0). */
function rateLimitSeen(send: SendOptions, headers: Dispatcher.ResponseData['headers'] | undefined) {
  const reset = rateLimitRemaining(headers, 'x-rate-limit-reset');
  return {
    method: send.method,
    rateLimitLimit: rateLimitRemaining(headers, 'x-rate-limit-limit'),
    rateLimitResetAt: reset === undefined ? undefined : reset * 1000,
    userKey: send.token && !send.path.startsWith('/oauth/') ? xUserKey(send.token.key) : undefined,
  };
}

function parseForm(body: string, required: string[]): Record<string, string> {
  const fields = Object.fromEntries(new URLSearchParams(body));
  for (const name of required) {
    if (!fields[name]) throw new XApiError('unexpected', {}, { detail: `form response without ${name}` });
  }
  return fields;
}

export function createXClient(options: XClientOptions): XClient {
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  const signer = options.signer ?? createSigner(options.consumer);
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const maxResponseBytes = options.maxResponseBytes ?? 1024 * 1024;
  const retries = options.retries ?? 3;
  const backoffBaseMs = options.backoffBaseMs ?? 500;
  const wait = options.wait ?? ((ms: number) => sleep(ms));
  const ownDispatcher = options.dispatcher === undefined;
  const dispatcher =
    options.dispatcher ??
    new Agent({
      connect: { timeout: options.connectTimeoutMs ?? 10_000 },
      headersTimeout: requestTimeoutMs,
      bodyTimeout: requestTimeoutMs,
      keepAliveTimeout: 30_000,
      connections: 64,
    });

  // Parsed once: undici's top-level request(url) parses the URL again on every call (measured about 3% of
  // the client's CPU per upload in `npm run bench -- upload`); the dispatcher takes origin and path as is.
  const { origin, pathname: basePath } = new URL(apiUrl);
  const pathPrefix = basePath.replace(/\/+$/, '');

  /** The body as text, or XApiError `unexpected` past maxResponseBytes (the rest is not read). */
  async function readBounded(body: Dispatcher.ResponseData['body']): Promise<string> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxResponseBytes) {
        body.destroy();
        throw new XApiError('unexpected', {}, { detail: `response body over ${maxResponseBytes} bytes` });
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async function sendOnce(send: SendOptions): Promise<{ status: number; body: string }> {
    const query = send.query && Object.keys(send.query).length > 0 ? `?${encodeQuery(send.query)}` : '';
    const url = `${apiUrl}${send.path}${query}`;
    const authorization = signer.authorization({ method: send.method, url, form: send.form, token: send.token, oauthParams: send.oauthParams });
    const headers: Record<string, string> = { authorization, accept: 'application/json' };
    let body: Buffer | string | undefined;
    if (send.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = encodeQuery(send.form);
    } else if (send.multipart) {
      headers['content-type'] = send.multipart.contentType;
      body = send.multipart.body;
    } else if (send.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(send.json);
    }
    const started = performance.now();
    const log = (status: number | undefined, kind?: string, headers?: Dispatcher.ResponseData['headers']) => {
      options.logger?.debug({ method: send.method, path: send.path, status, kind, ms: Math.round(performance.now() - started) }, 'x request');
      options.observe?.({ endpoint: send.path, status, seconds: (performance.now() - started) / 1000, rateLimitRemaining: rateLimitRemaining(headers), ...rateLimitSeen(send, headers) });
    };
    let response: Dispatcher.ResponseData;
    let text: string;
    try {
      // undici's request() never follows redirects unless a redirect interceptor is added: none is.
      response = await dispatcher.request({ origin, path: `${pathPrefix}${send.path}${query}`, method: send.method, headers, body, signal: AbortSignal.timeout(requestTimeoutMs) });
      text = await readBounded(response.body);
    } catch (error) {
      if (error instanceof XApiError) {
        log(undefined, error.kind);
        throw error;
      }
      log(undefined, 'network');
      throw networkError(error);
    }
    if (response.statusCode >= 200 && response.statusCode < 300) {
      log(response.statusCode, undefined, response.headers);
      return { status: response.statusCode, body: text };
    }
    const failure = (send.errors ?? errorFromResponse)(response.statusCode, response.headers, text);
    log(response.statusCode, failure.kind, response.headers);
    throw failure;
  }

  async function send(request: SendOptions): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await sendOnce(request)).body; // a fresh nonce and timestamp on every attempt
      } catch (error) {
        if (!(error instanceof XApiError) || error.kind !== 'transient' || attempt >= retries || (request.once && error.ambiguous)) throw error;
        await wait(Math.random() * backoffBaseMs * 2 ** attempt);
      }
    }
  }

  async function sendJson(request: SendOptions): Promise<unknown> {
    const text = await send(request);
    try {
      return JSON.parse(text);
    } catch {
      throw new XApiError('unexpected', {}, { detail: 'success response that is not JSON' });
    }
  }

  const mode = options.profileApi ?? createProfileApiMode({ setting: 'v1.1', record: memoryRecord() });
  const tokenOf = (user: UserTokens): Credentials => ({ key: user.token, secret: user.secret });

  /** A profile call on the API in force; in auto, v1.1 answering that it is gone switches the app and the
   *  same call goes to v2 (refused, so nothing was applied). */
  async function routed<T>(kind: 'read' | 'write', calls: Record<ProfileApi, () => Promise<T>>): Promise<T> {
    const { api, probe } = kind === 'read' ? { api: await mode.forRead(), probe: false } : await mode.forWrite();
    if (api === 'v2') return calls.v2();
    let worked = false;
    try {
      const result = await calls['v1.1']();
      worked = true;
      return result;
    } catch (error) {
      if (mode.setting !== 'auto' || !v1Gone(error)) throw error;
      await mode.gone(error);
      return calls.v2();
    } finally {
      if (probe) await mode.settled(worked);
    }
  }

  const v2Me = async (user: UserTokens) => {
    const user2 = parseV2User(await sendJson({ method: 'GET', path: '/2/users/me', query: { 'user.fields': V2_USER_FIELDS }, token: tokenOf(user) }));
    if (!user2) throw new XApiError('unexpected', {}, { detail: 'v2 user object without id, username or profile_image_url' });
    return user2;
  };

  /** X's answer to a v2 write when it carries the user, else the user read again. The write was applied: a read
   *  that fails then is `ambiguous`, so the caller looks at the profile rather than count the change as refused. */
  const v2Answer = async (user: UserTokens, json: unknown) =>
    parseV2User(json) ??
    v2Me(user).catch((error: unknown) => {
      throw new XApiError('transient', {}, { variant: 'unreachable', ambiguous: true, cause: error, detail: 'the write was applied; reading the user after it failed' });
    });

  const v2UploadProfileImage = async (user: UserTokens, image: AvatarImage) => {
    // Uploading the media twice is harmless (an unused media id expires), so it is retried like a read; the
    // PUT that uses it is what changes the profile and is sent once.
    const media = mediaSchema.safeParse(
      await sendJson({
        method: 'POST',
        path: '/2/media/upload',
        token: tokenOf(user),
        multipart: multipartFile('media', `avatar.${image.format === 'jpeg' ? 'jpg' : image.format}`, MIME[image.format], image.data, { media_category: 'tweet_image', media_type: MIME[image.format] }),
      }),
    );
    if (!media.success) throw new XApiError('unexpected', {}, { detail: 'media upload response without data.id' });
    return v2Answer(user, await sendJson({ method: 'PUT', path: '/2/users/me/profile_image', token: tokenOf(user), json: { media_id: media.data.data.id }, once: true }));
  };

  const verifyCredentials = async (user: UserTokens) => routed('read', { 'v1.1': () => v1VerifyCredentials(user), v2: () => v2Me(user) });

  const v1VerifyCredentials = async (user: UserTokens) =>
    parseUser(
      await sendJson({
        method: 'GET',
        path: '/1.1/account/verify_credentials.json',
        query: { include_entities: 'false', skip_status: 'true' },
        token: { key: user.token, secret: user.secret },
      }),
    );

  const uploadProfileImage = async (user: UserTokens, image: AvatarImage) => routed('write', { 'v1.1': () => v1UploadProfileImage(user, image), v2: () => v2UploadProfileImage(user, image) });

  const v1UploadProfileImage = async (user: UserTokens, image: AvatarImage) =>
    parseUser(
      await sendJson({
        method: 'POST',
        path: '/1.1/account/update_profile_image.json',
        query: { include_entities: 'false', skip_status: 'true' },
        token: { key: user.token, secret: user.secret },
        multipart: multipartImage(image),
        // A second upload of an image X applied would be a second change: the caller reads the profile first.
        once: true,
      }),
    );

  const bannerErrors: typeof errorFromResponse = (status, headers, body) => profileErrorFromResponse('banner', status, headers, body);
  const profileErrors: typeof errorFromResponse = (status, headers, body) => profileErrorFromResponse('profile', status, headers, body);

  const uploadProfileBanner = async (user: UserTokens, image: Buffer, region?: BannerRegion) => {
    // Refused here rather than by X, with the size in the words: nothing leaves that X would refuse for it.
    if (image.length === 0) throw new XApiError('banner-unprocessable', {}, { detail: 'empty banner' });
    if (image.length > MAX_BANNER_BYTES) {
      throw new XApiError('banner-too-large', { megabytes: Math.ceil((image.length / 1024 / 1024) * 10) / 10, max: MAX_BANNER_BYTES / 1024 / 1024 }, { variant: 'over-limit', detail: `${image.length} bytes` });
    }
    await send({
      method: 'POST',
      path: '/1.1/account/update_profile_banner.json',
      // The region travels in the signed query, so it cannot be altered on the way; the bytes travel raw in
      // multipart, as the avatar does (a base64 `banner` field would be a third larger and all of it signed).
      query: regionQuery(region),
      token: { key: user.token, secret: user.secret },
      multipart: multipartFile('banner', 'banner', 'application/octet-stream', image),
      once: true, // as the avatar: a second upload X applied would be a second change
      errors: bannerErrors,
    });
  };

  return {
    async requestToken(callback) {
      const fields = parseForm(await send({ method: 'POST', path: '/oauth/request_token', oauthParams: { oauth_callback: callback } }), ['oauth_token', 'oauth_token_secret']);
      if (fields.oauth_callback_confirmed !== 'true') {
        throw new XApiError('unexpected', {}, { variant: 'callback-not-confirmed', detail: 'oauth_callback_confirmed is not true' });
      }
      return { token: fields.oauth_token!, secret: fields.oauth_token_secret! };
    },

    authorizeUrl: (requestToken) => `${apiUrl}/oauth/authorize?${encodeQuery({ oauth_token: requestToken })}`,

    async accessToken(requestToken, verifier) {
      let text: string;
      try {
        text = await send({ method: 'POST', path: '/oauth/access_token', token: { key: requestToken.token, secret: requestToken.secret }, oauthParams: { oauth_verifier: verifier.trim() } });
      } catch (error) {
        if (error instanceof XApiError && error.status === 401) {
          throw new XApiError('token-revoked', {}, { variant: 'sign-in', status: 401, code: error.code, detail: error.message, cause: error });
        }
        throw error;
      }
      const fields = parseForm(text, ['oauth_token', 'oauth_token_secret', 'user_id', 'screen_name']);
      return { token: fields.oauth_token!, secret: fields.oauth_token_secret!, userId: fields.user_id!, screenName: fields.screen_name! };
    },

    uploadProfileImage,

    async updateProfileImage(user, image, updateOptions = {}) {
      const uploaded = await uploadProfileImage(user, image);
      // X processes the image asynchronously: the URL in the upload response may still be the old one.
      const previous = updateOptions.previousUrl;
      let current = uploaded;
      for (let read = 0; read < 3; read++) {
        await wait(options.processingDelayMs);
        current = await verifyCredentials(user);
        if (previous === undefined || profileImageUrls(previous).original !== current.profileImage.original) break;
      }
      return current;
    },

    verifyCredentials,

    uploadProfileBanner,

    async updateProfileBanner(user, image, region, bannerOptions = {}) {
      await uploadProfileBanner(user, image, region);
      // Processed asynchronously like the avatar: the old banner (or none) shows until X is done.
      let current: XUser | undefined;
      for (let read = 0; read < 3; read++) {
        await wait(options.processingDelayMs);
        current = await v1VerifyCredentials(user); // the banner stays on v1.1 in every mode, and so does its read
        if (bannerOptions.previousUrl === undefined || (current.bannerUrl ?? null) !== bannerOptions.previousUrl) break;
      }
      return current!;
    },

    async removeProfileBanner(user) {
      // Removing twice is the same change: retried like a read.
      await send({ method: 'POST', path: '/1.1/account/remove_profile_banner.json', token: { key: user.token, secret: user.secret }, errors: bannerErrors });
    },

    async updateProfile(user, fields) {
      checkProfileText(fields);
      const changed: Record<string, string> = {};
      for (const field of ['name', 'description', 'url', 'location'] as const) if (fields[field] !== undefined) changed[field] = fields[field];
      // Setting the same values twice is the same change, so a transient failure is retried like a read (both APIs).
      return routed('write', {
        'v1.1': async () =>
          parseUser(await sendJson({ method: 'POST', path: '/1.1/account/update_profile.json', token: tokenOf(user), form: { include_entities: 'false', skip_status: 'true', ...changed }, errors: profileErrors })),
        v2: async () => v2Answer(user, await sendJson({ method: 'PUT', path: '/2/users/me', token: tokenOf(user), json: changed, errors: profileErrors })),
      });
    },

    async profileBanner(user, userId) {
      try {
        return parseBanner(await sendJson({ method: 'GET', path: '/1.1/users/profile_banner.json', query: { user_id: userId }, token: { key: user.token, secret: user.secret } }));
      } catch (error) {
        if (error instanceof XApiError && error.status === 404) return undefined; // no banner
        throw error;
      }
    },

    async invalidateToken(user) {
      await send({ method: 'POST', path: '/1.1/oauth/invalidate_token.json', token: { key: user.token, secret: user.secret } });
    },

    async close() {
      if (ownDispatcher) await dispatcher.close();
    },
  };
}
