/**
 * The X client's banner, name and bio calls against the X-compatible server (which checks every
 * signature itself, decodes the banner with sharp and counts text in graphemes): uploads and reads back,
 * X's refusals as their own kinds, retries and rate limits as for the avatar, and nothing sent that X
 * would refuse for its size.
 */
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '../../src/x/oauth.js';
import { createXClient, MAX_BANNER_BYTES, type XClient } from '../../src/x/client.js';
import { profileErrorFromResponse, XApiError } from '../../src/x/errors.js';
import { ProfileTextError } from '../../src/profile/text.js';
import { startXServer, X_PATHS, xFaults, type FakeXUser, type XServer } from '../support/x-server.js';

let server: XServer;
let client: XClient;
const waits: number[] = [];
let banner: Buffer;

beforeAll(async () => {
  server = await startXServer({ processingDelayMs: 30 });
  client = createXClient({
    apiUrl: server.url,
    consumer: server.consumer,
    processingDelayMs: 40,
    requestTimeoutMs: 1_000,
    backoffBaseMs: 1,
    wait: async (ms) => {
      waits.push(ms);
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
  });
  banner = await sharp({ create: { width: 1500, height: 500, channels: 3, background: '#228833' } }).jpeg().toBuffer();
});
afterAll(async () => {
  await client.close();
  await server.close();
});
afterEach(() => {
  server.clearFaults();
  waits.length = 0;
});

let users = 0;
function newUser(): { user: FakeXUser; tokens: { token: string; secret: string } } {
  const user = server.addUser({ screenName: `member${users++}` });
  return { user, tokens: { token: user.accessToken.token, secret: user.accessToken.secret } };
}

async function failure(promise: Promise<unknown>): Promise<XApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(XApiError);
  return error as XApiError;
}

const requestsTo = (path: string) => server.requests.filter((request) => request.path === path).length;
const FAMILY = '👩‍👩‍👧';
const FLAG = '🇺🇦';

describe('the banner', () => {
  it('uploads raw multipart bytes, waits for processing and reads back the new banner URL', async () => {
    const { user, tokens } = newUser();
    expect((await client.verifyCredentials(tokens)).bannerUrl).toBeUndefined();
    expect(await client.profileBanner(tokens, user.id)).toBeUndefined();

    const after = await client.updateProfileBanner(tokens, banner);
    expect(server.banners.at(-1)).toMatchObject({ userId: user.id, encoding: 'multipart', format: 'jpeg', width: 1500, height: 500 });
    expect(server.banners.at(-1)!.bytes.equals(banner)).toBe(true);
    expect(after.bannerUrl).toBe(server.profileBannerUrl(user.id));
    expect(waits).toContain(40);

    const sizes = await client.profileBanner(tokens, user.id);
    expect(sizes?.url).toBe(after.bannerUrl);
    expect(sizes?.sizes['1500x500']).toEqual({ width: 1500, height: 500, url: `${after.bannerUrl}/1500x500` });
    const served = await fetch(sizes!.sizes['1500x500']!.url);
    expect((await sharp(Buffer.from(await served.arrayBuffer())).metadata()).width).toBe(1500);
    expect(server.requests.every((request) => request.path.startsWith('/profile_banners/') || request.authOk)).toBe(true);
  });

  it('sends the region in the signed query, and reads again while X still shows the old banner', async () => {
    // X's clock moves only when the client waits, so the reads fall at 40, 80 and 120 ms of it however busy the machine is.
    let clock = Date.now();
    const slow = await startXServer({ processingDelayMs: 100, now: () => clock });
    const fast = createXClient({ apiUrl: slow.url, consumer: slow.consumer, processingDelayMs: 40, wait: async (ms) => void (clock += ms) });
    try {
      const member = slow.addUser({ screenName: 'slow' });
      const tokens = { token: member.accessToken.token, secret: member.accessToken.secret };
      const region = { width: 1200, height: 400, offsetLeft: 300, offsetTop: 100 };
      // No banner before (null): the first read at 40 ms still shows none, the third at 120 ms shows the new one.
      const after = await fast.updateProfileBanner(tokens, banner, region, { previousUrl: null });
      expect(after.bannerUrl).toBe(slow.profileBannerUrl(member.id));
      expect(slow.banners[0]!.region).toEqual(region);
      const upload = slow.requests.find((request) => request.path === X_PATHS.updateProfileBanner)!;
      expect(upload.authOk).toBe(true);
      expect(upload.query).toEqual(expect.arrayContaining([['width', '1200'], ['height', '400'], ['offset_left', '300'], ['offset_top', '100']]));
      expect(slow.requests.filter((request) => request.path === X_PATHS.verifyCredentials).length).toBe(3);
      await expect(fast.uploadProfileBanner(tokens, banner, { ...region, width: 0 })).rejects.toBeInstanceOf(RangeError);
    } finally {
      await fast.close();
      await slow.close();
    }
  });

  it('accepts 200 and 202 with an empty body as X may answer', async () => {
    const { tokens } = newUser();
    server.fail({ path: X_PATHS.updateProfileBanner, status: 200, body: '' });
    await client.uploadProfileBanner(tokens, banner);
    server.fail({ path: X_PATHS.updateProfileBanner, status: 202, body: '' });
    await client.uploadProfileBanner(tokens, banner);
  });

  it('a file X cannot process: banner-unprocessable (400 from the server itself)', async () => {
    const { user, tokens } = newUser();
    const error = await failure(client.updateProfileBanner(tokens, Buffer.from('%PDF-1.4 this is no image')));
    expect(error).toMatchObject({ kind: 'banner-unprocessable', status: 400 });
    expect(error.userMessage).toBe('X could not process the banner image. Try a JPG or PNG.');
    expect(server.profileBannerUrl(user.id)).toBeUndefined();
  });

  it('a region X cannot cut, or a 422 from X: banner-too-large', async () => {
    const { tokens } = newUser();
    const outside = await failure(client.uploadProfileBanner(tokens, banner, { width: 1500, height: 500, offsetLeft: 1, offsetTop: 0 }));
    expect(outside).toMatchObject({ kind: 'banner-too-large', status: 422 });
    server.fail(xFaults.bannerTooLarge());
    expect(await failure(client.uploadProfileBanner(tokens, banner))).toMatchObject({ kind: 'banner-too-large', status: 422 });
    server.fail(xFaults.bannerUnprocessable());
    expect(await failure(client.uploadProfileBanner(tokens, banner))).toMatchObject({ kind: 'banner-unprocessable', status: 400 });
  });

  it('refuses a banner over 5 MB, or an empty one, before sending anything', async () => {
    const { tokens } = newUser();
    const count = requestsTo(X_PATHS.updateProfileBanner);
    const big = Buffer.concat([banner, Buffer.alloc(MAX_BANNER_BYTES + 1 - banner.length)]);
    const error = await failure(client.uploadProfileBanner(tokens, big));
    expect(error).toMatchObject({ kind: 'banner-too-large', variant: 'over-limit', status: undefined });
    expect(error.userMessage).toBe('That banner image is 5.1 MB; X takes banners of at most 5 MB.'); // rounded up: never "5.0 MB, at most 5"
    expect((await failure(client.uploadProfileBanner(tokens, Buffer.alloc(0)))).kind).toBe('banner-unprocessable');
    expect(requestsTo(X_PATHS.updateProfileBanner)).toBe(count);
  });

  it('429: rate-limited with the reset, not retried; the next attempt succeeds', async () => {
    const { user, tokens } = newUser();
    const reset = Math.floor(Date.now() / 1000) + 120;
    server.fail(xFaults.rateLimited(X_PATHS.updateProfileBanner, reset));
    const count = requestsTo(X_PATHS.updateProfileBanner);
    const error = await failure(client.updateProfileBanner(tokens, banner));
    expect(error).toMatchObject({ kind: 'rate-limited', status: 429 });
    expect(error.resetAt?.getTime()).toBe(reset * 1000);
    expect(requestsTo(X_PATHS.updateProfileBanner) - count).toBe(1);
    expect((await client.updateProfileBanner(tokens, banner)).bannerUrl).toBe(server.profileBannerUrl(user.id));
  });

  it('5xx is retried with backoff; a dropped connection after sending is not (X may have applied it)', async () => {
    const { user, tokens } = newUser();
    server.fail({ ...xFaults.serviceUnavailable(X_PATHS.updateProfileBanner), times: 2 });
    expect((await client.updateProfileBanner(tokens, banner)).bannerUrl).toBe(server.profileBannerUrl(user.id));
    expect(waits.filter((ms) => ms !== 40)).toHaveLength(2);

    const count = requestsTo(X_PATHS.updateProfileBanner);
    server.fail(xFaults.connectionReset(X_PATHS.updateProfileBanner));
    expect(await failure(client.uploadProfileBanner(tokens, banner))).toMatchObject({ kind: 'transient', ambiguous: true });
    expect(requestsTo(X_PATHS.updateProfileBanner) - count).toBe(1);
  });

  it('a revoked token: token-revoked (401 code 89) on every new call', async () => {
    const { user, tokens } = newUser();
    server.fail(xFaults.tokenRevoked(X_PATHS.updateProfileBanner));
    expect(await failure(client.uploadProfileBanner(tokens, banner))).toMatchObject({ kind: 'token-revoked', code: 89 });
    server.revoke(user.id);
    expect(await failure(client.updateProfileBanner(tokens, banner))).toMatchObject({ kind: 'token-revoked', code: 89 });
    expect(await failure(client.updateProfile(tokens, { name: 'New' }))).toMatchObject({ kind: 'token-revoked', code: 89 });
    expect(await failure(client.profileBanner(tokens, user.id))).toMatchObject({ kind: 'token-revoked', code: 89 });
  });
});

describe('name, bio, website and location', () => {
  it('updates only the fields given and answers the user object', async () => {
    const { user, tokens } = newUser();
    const before = server.requests.length;
    const updated = await client.updateProfile(tokens, { name: 'Ada 🎃', description: 'Counts graphemes.', location: 'Kyiv' });
    expect(updated).toMatchObject({ id: user.id, name: 'Ada 🎃', description: 'Counts graphemes.', location: 'Kyiv' });
    expect(updated.url).toBeUndefined();
    const again = await client.updateProfile(tokens, { url: 'https://example.com/ada' });
    expect(again).toMatchObject({ name: 'Ada 🎃', description: 'Counts graphemes.', url: 'https://example.com/ada' });
    expect(server.profile(user.id)).toEqual({ name: 'Ada 🎃', description: 'Counts graphemes.', url: 'https://example.com/ada', location: 'Kyiv' });
    const sent = server.requests.slice(before);
    expect(sent.map((request) => [request.path, request.status, request.authOk])).toEqual([
      [X_PATHS.updateProfile, 200, true],
      [X_PATHS.updateProfile, 200, true],
    ]);
  });

  it('accepts a name of 50 emoji (ZWJ families and flags), and X takes it too', async () => {
    const { user, tokens } = newUser();
    const name = `${FAMILY}${FLAG}`.repeat(25);
    expect(name.length).toBe(300);
    expect((await client.updateProfile(tokens, { name })).name).toBe(name);
    expect(server.profile(user.id).name).toBe(name);
  });

  it('refuses a 51-grapheme name before sending anything', async () => {
    const { user, tokens } = newUser();
    const count = requestsTo(X_PATHS.updateProfile);
    const error = await client.updateProfile(tokens, { name: `${FAMILY}${'a'.repeat(50)}` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProfileTextError);
    expect(error).toMatchObject({ kind: 'text-too-long', variant: 'name', params: { length: 51, max: 50 } });
    expect(requestsTo(X_PATHS.updateProfile)).toBe(count);
    expect(server.profile(user.id).name).toBe(user.screenName);
  });

  it('a 51-grapheme name sent raw to X answers code 120, which the client reads as profile-text-too-long', async () => {
    const { user, tokens } = newUser();
    // Signed by the client's own signer but sent without the client's check.
    const url = `${server.url}${X_PATHS.updateProfile}`;
    const form = { name: 'a'.repeat(51) };
    const authorization = createSigner(server.consumer).authorization({ method: 'POST', url, form, token: { key: tokens.token, secret: tokens.secret } });
    const response = await fetch(url, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    expect(response.status).toBe(403);
    const error = profileErrorFromResponse('profile', response.status, {}, await response.text());
    expect(error).toMatchObject({ kind: 'profile-text-too-long', code: 120, status: 403 });
    expect(server.profile(user.id).name).toBe(user.screenName);

    // The same answer through the client (X counting differently from us one day): the same kind.
    server.fail(xFaults.profileTextTooLong());
    expect(await failure(client.updateProfile(tokens, { name: 'Fits' }))).toMatchObject({ kind: 'profile-text-too-long', code: 120 });
  });

  it('429 then success, 5xx retried (setting the same values twice is the same change), revoked token', async () => {
    const { tokens } = newUser();
    server.fail(xFaults.rateLimited(X_PATHS.updateProfile, Math.floor(Date.now() / 1000) + 60));
    expect((await failure(client.updateProfile(tokens, { name: 'Later' }))).kind).toBe('rate-limited');
    expect((await client.updateProfile(tokens, { name: 'Later' })).name).toBe('Later');

    server.fail(xFaults.connectionReset(X_PATHS.updateProfile));
    server.fail(xFaults.internalError(X_PATHS.updateProfile));
    expect((await client.updateProfile(tokens, { name: 'Retried' })).name).toBe('Retried');
    expect(waits).toHaveLength(2);

    server.fail(xFaults.tokenRevoked(X_PATHS.updateProfile));
    expect((await failure(client.updateProfile(tokens, { name: 'x' }))).kind).toBe('token-revoked');
  });
});

describe('reading', () => {
  it('verify_credentials carries profile_banner_url only when there is a banner', async () => {
    const { tokens } = newUser();
    const before = await client.verifyCredentials(tokens);
    expect('bannerUrl' in before).toBe(false);
    await client.updateProfileBanner(tokens, banner);
    expect((await client.verifyCredentials(tokens)).bannerUrl).toMatch(/\/profile_banners\/\d+\/\d+$/);
  });

  it('does not read an answer over the response bound', async () => {
    const { tokens } = newUser();
    const huge = JSON.stringify({ id_str: '1', screen_name: 'big', profile_image_url_https: 'https://x/a_normal.png', description: 'd'.repeat(2 * 1024 * 1024) });
    server.fail({ path: X_PATHS.verifyCredentials, status: 200, body: huge, headers: { 'content-type': 'application/json' } });
    expect(await failure(client.verifyCredentials(tokens))).toMatchObject({ kind: 'unexpected' });
  });
});
