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
import { createSigner, encodeQuery, type Credentials, type Signer } from './oauth.js';
import { XApiError, errorFromResponse, networkError } from './errors.js';
import type { Logger } from '../log.js';

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
  /** The bio; '' when empty. */
  description?: string;
  /** The banner's URL without a size suffix; absent when the user has none. */
  bannerUrl?: string;
  profileImage: ProfileImageUrls;
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
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  token?: Credentials;
  oauthParams?: Record<string, string>;
  /** Signed form body. */
  form?: Record<string, string>;
  /** Unsigned multipart body. */
  multipart?: { contentType: string; body: Buffer };
  /** Not idempotent: a failure that may have reached X is returned, not retried (the caller looks first). */
  once?: boolean;
}

const MIME: Record<AvatarImage['format'], string> = { jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif' };

function multipartImage(image: AvatarImage): { contentType: string; body: Buffer } {
  const boundary = `----avatar-bot-${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="avatar.${image.format === 'jpeg' ? 'jpg' : image.format}"\r\n` +
      `Content-Type: ${MIME[image.format]}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat([head, image.data, tail]) };
}

function parseUser(json: unknown): XUser {
  const user = json as Record<string, unknown>;
  const id = typeof user.id_str === 'string' ? user.id_str : typeof user.id === 'number' ? String(user.id) : undefined;
  const imageUrl = user.profile_image_url_https;
  if (id === undefined || typeof user.screen_name !== 'string' || typeof imageUrl !== 'string') {
    throw new XApiError('unexpected', {}, { detail: 'user object without id, screen_name or profile_image_url_https' });
  }
  return {
    id,
    screenName: user.screen_name,
    name: typeof user.name === 'string' ? user.name : user.screen_name,
    ...(typeof user.description === 'string' ? { description: user.description } : {}),
    ...(typeof user.profile_banner_url === 'string' && user.profile_banner_url !== '' ? { bannerUrl: user.profile_banner_url } : {}),
    profileImage: profileImageUrls(imageUrl),
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

  async function sendOnce(send: SendOptions): Promise<{ status: number; body: string }> {
    const query = send.query ? `?${encodeQuery(send.query)}` : '';
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
    }
    const started = performance.now();
    const log = (status: number | undefined, kind?: string) =>
      options.logger?.debug({ method: send.method, path: send.path, status, kind, ms: Math.round(performance.now() - started) }, 'x request');
    let response: Dispatcher.ResponseData;
    let text: string;
    try {
      // undici's request() never follows redirects unless a redirect interceptor is added: none is.
      response = await dispatcher.request({ origin, path: `${pathPrefix}${send.path}${query}`, method: send.method, headers, body, signal: AbortSignal.timeout(requestTimeoutMs) });
      text = await response.body.text();
    } catch (error) {
      log(undefined, 'network');
      throw networkError(error);
    }
    if (response.statusCode >= 200 && response.statusCode < 300) {
      log(response.statusCode);
      return { status: response.statusCode, body: text };
    }
    const failure = errorFromResponse(response.statusCode, response.headers, text);
    log(response.statusCode, failure.kind);
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

  const verifyCredentials = async (user: UserTokens) =>
    parseUser(
      await sendJson({
        method: 'GET',
        path: '/1.1/account/verify_credentials.json',
        query: { include_entities: 'false', skip_status: 'true' },
        token: { key: user.token, secret: user.secret },
      }),
    );

  const uploadProfileImage = async (user: UserTokens, image: AvatarImage) =>
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

    async invalidateToken(user) {
      await send({ method: 'POST', path: '/1.1/oauth/invalidate_token.json', token: { key: user.token, secret: user.secret } });
    },

    async close() {
      if (ownDispatcher) await dispatcher.close();
    },
  };
}
