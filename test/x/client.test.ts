import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createXClient, profileImageUrls, type XClient } from '../../src/x/client.js';
import { XApiError } from '../../src/x/errors.js';
import { startXServer, X_PATHS, xFaults, type FakeXUser, type XServer } from '../support/x-server.js';

let server: XServer;
let client: XClient;
let alice: FakeXUser;
const waits: number[] = [];
let jpeg: Buffer;

beforeAll(async () => {
  server = await startXServer({ processingDelayMs: 30 });
  alice = server.addUser({ screenName: 'alice' });
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
  jpeg = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#3366cc' } }).jpeg().toBuffer();
});
afterAll(async () => {
  await client.close();
  await server.close();
});
afterEach(() => {
  server.clearFaults();
  waits.length = 0;
});

const tokens = () => ({ token: alice.accessToken.token, secret: alice.accessToken.secret });
const failure = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(XApiError);
  return error as XApiError;
};

describe('linking with a PIN (3-legged OAuth)', () => {
  it('requests a token, builds the authorize URL and exchanges the PIN', async () => {
    const requestToken = await client.requestToken('oob');
    expect(client.authorizeUrl(requestToken.token)).toBe(`${server.url}/oauth/authorize?oauth_token=${encodeURIComponent(requestToken.token)}`);
    const bob = server.addUser({ screenName: 'bob' });
    const { verifier } = server.approve(requestToken.token, bob.id);
    const account = await client.accessToken(requestToken, verifier);
    expect(account).toMatchObject({ userId: bob.id, screenName: 'bob' });
    expect((await client.verifyCredentials(account)).screenName).toBe('bob');
    expect(server.requests.every((request) => request.authOk)).toBe(true);
  });

  it('turns a wrong PIN into a clear error', async () => {
    const requestToken = await client.requestToken('oob');
    const error = await failure(client.accessToken(requestToken, '0000000'));
    expect(error.userMessage).toMatch(/PIN/);
  });

  it('sends the callback URL for the callback flow', async () => {
    const requestToken = await client.requestToken('https://bot.example/oauth/callback');
    const { redirectUrl } = server.approve(requestToken.token, alice.id);
    expect(redirectUrl).toMatch(/^https:\/\/bot\.example\/oauth\/callback\?oauth_token=/);
  });
});

describe('updating the profile image', () => {
  it('uploads multipart bytes, waits for processing and returns the final URLs', async () => {
    const before = await client.verifyCredentials(tokens());
    const user = await client.updateProfileImage(tokens(), { data: jpeg, format: 'jpeg' }, { previousUrl: before.profileImage.normal });
    const upload = server.uploads.at(-1)!;
    expect(upload).toMatchObject({ userId: alice.id, encoding: 'multipart', format: 'jpeg', width: 400, height: 400 });
    expect(upload.bytes.equals(jpeg)).toBe(true);
    expect(user.profileImage.normal).not.toBe(before.profileImage.normal);
    expect(user.profileImage.normal).toMatch(/_normal\.jpg$/);
    expect(user.profileImage.size400).toBe(user.profileImage.normal.replace('_normal', '_400x400'));
    expect(user.profileImage.original).toBe(user.profileImage.normal.replace('_normal', ''));
    const served = await fetch(user.profileImage.size400);
    expect((await sharp(Buffer.from(await served.arrayBuffer())).metadata()).width).toBe(400);
    expect(waits).toContain(40);
  });

  it('never reuses a nonce, even across retries', async () => {
    server.fail({ ...xFaults.serviceUnavailable(X_PATHS.updateProfileImage), times: 2 });
    await client.updateProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    expect(server.nonceReuses).toBe(0);
    const nonces = server.requests.flatMap((request) => (request.oauthParams ? [request.oauthParams.oauth_nonce] : []));
    expect(new Set(nonces).size).toBe(nonces.length);
  });
});

describe('every error kind', () => {
  const upload = () => client.updateProfileImage(tokens(), { data: jpeg, format: 'jpeg' });

  it('token-revoked (401/89) and after invalidate_token', async () => {
    server.fail(xFaults.tokenRevoked(X_PATHS.updateProfileImage));
    expect((await failure(upload())).kind).toBe('token-revoked');

    const carol = server.addUser({ screenName: 'carol' });
    const carolTokens = { token: carol.accessToken.token, secret: carol.accessToken.secret };
    await client.invalidateToken(carolTokens);
    const error = await failure(client.verifyCredentials(carolTokens));
    expect(error).toMatchObject({ kind: 'token-revoked', code: 89 });
  });

  it('rate-limited (429) with the reset time, not retried', async () => {
    const reset = Math.floor(Date.now() / 1000) + 120;
    server.fail(xFaults.rateLimited(X_PATHS.updateProfileImage, reset));
    const count = server.requests.length;
    const error = await failure(upload());
    expect(error.kind).toBe('rate-limited');
    expect(error.resetAt?.getTime()).toBe(reset * 1000);
    expect(error.userMessage).toMatch(/Try again in 2 minutes/);
    expect(server.requests.length - count).toBe(1);
  });

  it('transient (503) retried 3 times with growing backoff, then reported', async () => {
    server.fail({ ...xFaults.serviceUnavailable(X_PATHS.updateProfileImage), times: 4 });
    const count = server.uploads.length;
    const error = await failure(upload());
    expect(error.kind).toBe('transient');
    expect(server.requests.filter((r) => r.path === X_PATHS.updateProfileImage && r.status === 503).length).toBeGreaterThanOrEqual(4);
    expect(server.uploads.length).toBe(count);
    expect(waits.length).toBe(3);
  });

  it('transient (503 then success) recovers', async () => {
    server.fail(xFaults.overCapacity(X_PATHS.updateProfileImage));
    const user = await upload();
    expect(user.screenName).toBe('alice');
  });

  it('transient on a timeout and on a dropped connection', async () => {
    server.fail({ ...xFaults.timeout(X_PATHS.verifyCredentials), times: 4 });
    expect((await failure(client.verifyCredentials(tokens()))).kind).toBe('transient');
    server.clearFaults();
    server.fail(xFaults.connectionReset(X_PATHS.verifyCredentials));
    expect((await client.verifyCredentials(tokens())).screenName).toBe('alice');
  });

  it('image-rejected (422 with error)', async () => {
    server.fail(xFaults.imageRejected(X_PATHS.updateProfileImage, 'media type unrecognized.'));
    const error = await failure(upload());
    expect(error.kind).toBe('image-rejected');
    expect(error.userMessage).toBe('X rejected the image (X said: “media type unrecognized”).');
  });

  it('image-rejected by the server itself for a file X cannot read', async () => {
    const error = await failure(client.updateProfileImage(tokens(), { data: Buffer.from('not an image'), format: 'png' }));
    expect(error.kind).toBe('image-rejected');
  });

  it.each([220, 261, 453])('app-blocked (%i): the app, not the user', async (code) => {
    server.fail(xFaults.forbidden(X_PATHS.updateProfileImage, code as 220 | 261 | 453));
    expect((await failure(upload())).kind).toBe('app-blocked');
  });

  it('account-locked (326) and suspended (64)', async () => {
    server.fail(xFaults.accountLocked(X_PATHS.updateProfileImage));
    expect((await failure(upload())).userMessage).toMatch(/locked/);
    server.fail(xFaults.accountSuspended(X_PATHS.updateProfileImage));
    expect((await failure(upload())).userMessage).toMatch(/suspended/);
  });

  it('auth when the consumer secret is wrong (code 32), never retried', async () => {
    const wrong = createXClient({ apiUrl: server.url, consumer: { key: server.consumer.key, secret: 'wrong' }, processingDelayMs: 0 });
    try {
      const error = await failure(wrong.requestToken('oob'));
      expect(error).toMatchObject({ kind: 'auth', code: 32 });
    } finally {
      await wrong.close();
    }
  });

  it('auth when the clock is off (code 135)', async () => {
    const { createSigner } = await import('../../src/x/oauth.js');
    const signer = createSigner(server.consumer, { clock: { nonce: () => `n${Math.random()}`, timestamp: () => Math.floor(Date.now() / 1000) - 3600 } });
    const skewed = createXClient({ apiUrl: server.url, consumer: server.consumer, processingDelayMs: 0, signer });
    try {
      expect(await failure(skewed.verifyCredentials(tokens()))).toMatchObject({ kind: 'auth', code: 135 });
    } finally {
      await skewed.close();
    }
  });

  it('does not follow a redirect on a signed request', async () => {
    server.fail(xFaults.redirect(X_PATHS.verifyCredentials, `${server.url}/1.1/users/show.json`));
    const count = server.requests.length;
    expect((await failure(client.verifyCredentials(tokens()))).kind).toBe('unexpected');
    expect(server.requests.length - count).toBe(1);
  });

  it('v2-style problem bodies are understood', async () => {
    server.fail(xFaults.v2Problem(X_PATHS.verifyCredentials));
    const error = await failure(client.verifyCredentials(tokens()));
    expect(error.message).toMatch(/HTTP \d+/);
  });
});

describe('profile image URLs', () => {
  it('derives the 400x400 and original variants', () => {
    expect(profileImageUrls('https://pbs.twimg.com/profile_images/1/abc_normal.jpg')).toEqual({
      normal: 'https://pbs.twimg.com/profile_images/1/abc_normal.jpg',
      size400: 'https://pbs.twimg.com/profile_images/1/abc_400x400.jpg',
      original: 'https://pbs.twimg.com/profile_images/1/abc.jpg',
    });
  });
});
