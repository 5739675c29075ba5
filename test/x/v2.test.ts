/**
 * Issue 12, item 1: two upload paths behind one port. The X client against the X-compatible server, which
 * checks every request's OAuth 1.0a signature: X_PROFILE_API=v2 (media upload + PUT), and auto (v1.1 until
 * it answers 410, 404 or 403 code 453, then v2 for the app, recorded in the store and re-probed daily).
 */
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createXClient, type XClient } from '../../src/x/client.js';
import { XApiError } from '../../src/x/errors.js';
import { createSigner } from '../../src/x/oauth.js';
import { ConfigError, parseConfig } from '../../src/config.js';
import { createProfileApiMode, keyvRecord, memoryRecord, PROFILE_API_NAMESPACE, REPROBE_MS, type ProfileApiRecord, type ProfileApiSetting } from '../../src/x/profile-api.js';
import { openStore, type Store } from '../../src/store/backend.js';
import { startXServer, V1_PROFILE_WRITES, X_PATHS, xFaults, type FakeXUser, type XServer } from '../support/x-server.js';

let server: XServer;
let alice: FakeXUser;
let jpeg: Buffer;
const clients: XClient[] = [];

beforeAll(async () => {
  server = await startXServer({ processingDelayMs: 20 });
  alice = server.addUser({ screenName: 'alice' });
  jpeg = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#3366cc' } }).jpeg().toBuffer();
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server.close();
});
afterEach(() => {
  server.clearFaults();
  server.switchOffV1(undefined);
});

function clientWith(setting: ProfileApiSetting, record: ProfileApiRecord = memoryRecord(), now?: () => number): XClient {
  const client = createXClient({
    apiUrl: server.url,
    consumer: server.consumer,
    processingDelayMs: 30,
    requestTimeoutMs: 2_000,
    backoffBaseMs: 1,
    profileApi: createProfileApiMode({ setting, record, ...(now ? { now } : {}) }),
  });
  clients.push(client);
  return client;
}

const tokens = () => ({ token: alice.accessToken.token, secret: alice.accessToken.secret });
/** The requests sent from `from` on, as "METHOD path status". */
const sentSince = (from: number) => server.requests.slice(from).map((r) => `${r.method} ${r.path} ${r.status}`);

describe('X_PROFILE_API', () => {
  it('is auto by default, takes v1.1, v2 and auto, and names itself in one line when it is anything else', () => {
    expect(parseConfig({}).xProfileApi).toBe('auto');
    expect(parseConfig({ X_PROFILE_API: 'V2' }).xProfileApi).toBe('v2');
    expect(parseConfig({ X_PROFILE_API: 'v1.1' }).xProfileApi).toBe('v1.1');
    let error: unknown;
    try {
      parseConfig({ X_PROFILE_API: 'v3' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('X_PROFILE_API');
    expect((error as ConfigError).userMessage).toMatch(/^X_PROFILE_API is "v3": use v1\.1, v2 or auto/);
    expect((error as ConfigError).userMessage).not.toContain('\n');
  });
});

describe('X_PROFILE_API=v2', () => {
  it('sets the avatar with a media upload and PUT /2/users/me/profile_image, reads with GET /2/users/me, all signed', async () => {
    const client = clientWith('v2');
    const from = server.requests.length;
    const uploadsBefore = server.uploads.length;
    const user = await client.updateProfileImage(tokens(), { data: jpeg, format: 'jpeg' }, { previousUrl: server.profileImageUrl(alice.id) });
    expect(sentSince(from)).toEqual([`POST ${X_PATHS.mediaUpload} 200`, `PUT ${X_PATHS.v2ProfileImage} 200`, `GET ${X_PATHS.v2Me} 200`]);
    expect(server.requests.slice(from).every((r) => r.authOk)).toBe(true);
    const [upload] = server.uploads.slice(uploadsBefore);
    expect(upload).toMatchObject({ api: 'v2', userId: alice.id, format: 'jpeg', width: 400, height: 400 });
    expect(upload!.bytes.equals(jpeg)).toBe(true);
    // The new picture, as X shows it after processing, in the three sizes the bot uses.
    expect(user.profileImage.normal).toBe(server.profileImageUrl(alice.id));
    expect(user).toMatchObject({ id: alice.id, screenName: 'alice' });
  });

  it('sends the name and bio with PUT /2/users/me (only the fields given), and the banner on v1.1', async () => {
    const client = clientWith('v2');
    const from = server.requests.length;
    const user = await client.updateProfile(tokens(), { name: 'Alice ✨', description: 'on v2' });
    expect(user).toMatchObject({ name: 'Alice ✨', description: 'on v2' });
    expect(server.profile(alice.id)).toMatchObject({ name: 'Alice ✨', description: 'on v2' });
    const banner = await sharp({ create: { width: 1500, height: 500, channels: 3, background: '#cc3366' } }).jpeg().toBuffer();
    const after = await client.updateProfileBanner(tokens(), banner, undefined, { previousUrl: null });
    expect(after.bannerUrl).toBe(server.profileBannerUrl(alice.id));
    // The v2 read carries the banner too (profile_banner_url is a v2 user field).
    expect((await client.verifyCredentials(tokens())).bannerUrl).toBe(server.profileBannerUrl(alice.id));
    const sent = sentSince(from);
    expect(sent[0]).toBe(`PUT ${X_PATHS.v2Me} 200`);
    expect(sent).toContain(`POST ${X_PATHS.updateProfileBanner} 201`);
    expect(sent.filter((line) => V1_PROFILE_WRITES.some((path) => line.includes(` ${path} `)))).toEqual([]);
    expect(server.requests.slice(from).every((r) => r.authOk)).toBe(true);
  });

  it('does not send the PUT twice when its answer is lost (the media upload may be retried, the PUT is not)', async () => {
    const client = clientWith('v2');
    server.fail(xFaults.internalError(X_PATHS.mediaUpload));
    server.fail(xFaults.connectionReset(X_PATHS.v2ProfileImage));
    const from = server.requests.length;
    const error = await client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(XApiError);
    expect((error as XApiError).ambiguous).toBe(true);
    const sent = sentSince(from).map((line) => line.replace(/ \d+$/, ''));
    expect(sent).toEqual([`POST ${X_PATHS.mediaUpload}`, `POST ${X_PATHS.mediaUpload}`, `PUT ${X_PATHS.v2ProfileImage}`]);
  });

  it('reads the user when X answers a PUT without it, and holds what X sends to X\'s own bounds', async () => {
    const client = clientWith('v2');
    server.fail({ path: X_PATHS.v2ProfileImage, method: 'PUT', status: 200, body: { data: { updated: true } } });
    const from = server.requests.length;
    const user = await client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    expect(sentSince(from)).toEqual([`POST ${X_PATHS.mediaUpload} 200`, `PUT ${X_PATHS.v2ProfileImage} 200`, `GET ${X_PATHS.v2Me} 200`]);
    expect(user).toMatchObject({ id: alice.id, screenName: 'alice' });
    // The write went through but the read after it fails: ambiguous, so the pipeline looks instead of counting it refused.
    server.fail({ path: X_PATHS.v2ProfileImage, method: 'PUT', status: 200, body: { data: { updated: true } } });
    server.fail(xFaults.v2Problem(X_PATHS.v2Me, { method: 'GET' }));
    await expect(client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' })).rejects.toMatchObject({ ambiguous: true });
    const huge = 'A'.repeat(100_000);
    server.fail({ path: X_PATHS.v2Me, method: 'PUT', status: 200, body: { data: { id: alice.id, username: 'alice', name: huge, description: huge, profile_image_url: server.profileImageUrl(alice.id) } } });
    const answered = await client.updateProfile(tokens(), { name: 'Fine' });
    expect(answered.name.length).toBeLessThanOrEqual(800);
    expect(answered.description!.length).toBeLessThanOrEqual(2_560);
  });

  it('the server refuses a media id that is unknown, another user\'s or expired, in v2\'s error shape', async () => {
    // A server of its own with a clock the test moves; the signer's timestamps follow it.
    let clock = Date.now();
    const timed = await startXServer({ now: () => clock });
    try {
      const [ann, bob] = [timed.addUser({ screenName: 'ann' }), timed.addUser({ screenName: 'bob' })];
      const signer = createSigner(timed.consumer, { clock: { nonce: () => Math.random().toString(36).slice(2), timestamp: () => Math.floor(clock / 1000) } });
      const signed = (method: string, path: string, user: FakeXUser) => {
        const url = `${timed.url}${path}`;
        return { url, authorization: signer.authorization({ method, url, token: { key: user.accessToken.token, secret: user.accessToken.secret } }) };
      };
      const put = async (user: FakeXUser, mediaId: unknown) => {
        const { url, authorization } = signed('PUT', X_PATHS.v2ProfileImage, user);
        const response = await fetch(url, { method: 'PUT', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ media_id: mediaId }) });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      const upload = async () => {
        const form = new FormData();
        form.append('media_category', 'tweet_image');
        form.append('media', new Blob([jpeg], { type: 'image/jpeg' }), 'a.jpg');
        const { url, authorization } = signed('POST', X_PATHS.mediaUpload, ann);
        const { data } = (await (await fetch(url, { method: 'POST', headers: { authorization }, body: form })).json()) as { data: { id: string; expires_after_secs: number } };
        expect(data.expires_after_secs).toBe(86_400);
        return data.id;
      };
      expect(await put(ann, '123')).toMatchObject({ status: 400, body: { title: 'Invalid Request', status: 400 } });
      const id = await upload();
      expect(await put(bob, id)).toMatchObject({ status: 400 }); // Ann's media id, used by Bob
      expect(await put(ann, id)).toMatchObject({ status: 200, body: { data: { id: ann.id, username: 'ann' } } });
      const late = await upload();
      clock += 24 * 60 * 60_000;
      expect(await put(ann, late)).toMatchObject({ status: 400 });
      expect(timed.requests.every((r) => r.authOk)).toBe(true);
    } finally {
      await timed.close();
    }
  });
});

describe('X_PROFILE_API=auto', () => {
  it.each([410, 404, 453] as const)('switches the app to v2 when update_profile_image answers %s, and sends the same upload there', async (answer) => {
    const record = memoryRecord();
    const client = clientWith('auto', record);
    server.switchOffV1(answer);
    const from = server.requests.length;
    const uploadsBefore = server.uploads.length;
    await client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    expect(sentSince(from)).toEqual([
      `POST ${X_PATHS.updateProfileImage} ${answer === 453 ? 403 : answer}`,
      `POST ${X_PATHS.mediaUpload} 200`,
      `PUT ${X_PATHS.v2ProfileImage} 200`,
    ]);
    expect(server.uploads.slice(uploadsBefore).map((u) => u.api)).toEqual(['v2']); // applied once
    expect(await record.get()).toMatchObject({ api: 'v2', reason: { 410: 'HTTP 410 code 68', 404: 'HTTP 404 code 34', 453: 'HTTP 403 code 453' }[answer] });
    // From now on, reads and writes go to v2 without asking v1.1 again.
    const next = server.requests.length;
    await client.updateProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    await client.updateProfile(tokens(), { description: 'after the switch' });
    expect(sentSince(next).filter((line) => line.includes('/1.1/'))).toEqual([]);
  });

  it('does not switch on a refusal that is about the user, the image or the app', async () => {
    const record = memoryRecord();
    const client = clientWith('auto', record);
    server.fail(xFaults.imageRejected(X_PATHS.updateProfileImage));
    await expect(client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' })).rejects.toMatchObject({ kind: 'image-rejected' });
    // The app may not write: the breaker's (app-blocked), not a reason to change API.
    server.fail(xFaults.forbidden(X_PATHS.updateProfileImage, 261));
    await expect(client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' })).rejects.toMatchObject({ kind: 'app-blocked', variant: 'write-permission' });
    expect(await record.get()).toBeUndefined();
  });

  it('tries v1.1 again a day after the switch: back to v1.1 when it works, another day on v2 when it does not', async () => {
    let clock = Date.UTC(2026, 10, 30);
    const record = memoryRecord();
    const client = clientWith('auto', record, () => clock);
    server.switchOffV1(410);
    await client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    const switchedAt = (await record.get())!.since;

    // A day later, v1.1 still gone: one probe, the write goes on to v2, and the next day starts now.
    clock += REPROBE_MS;
    let from = server.requests.length;
    await client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    expect(sentSince(from).map((line) => line.split(' ')[1])).toEqual([X_PATHS.updateProfileImage, X_PATHS.mediaUpload, X_PATHS.v2ProfileImage]);
    expect((await record.get())!).toMatchObject({ api: 'v2', since: switchedAt + REPROBE_MS });
    clock += 60_000;
    from = server.requests.length;
    await client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    expect(sentSince(from).map((line) => line.split(' ')[1])).toEqual([X_PATHS.mediaUpload, X_PATHS.v2ProfileImage]);

    // Another day, v1.1 answers again: the probe is the write, and the app is back on v1.1.
    server.switchOffV1(undefined);
    clock += REPROBE_MS;
    from = server.requests.length;
    await client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    expect(sentSince(from)).toEqual([`POST ${X_PATHS.updateProfileImage} 200`]);
    expect(await record.get()).toMatchObject({ api: 'v1.1', reason: 'probe' });
    from = server.requests.length;
    await client.verifyCredentials(tokens());
    expect(sentSince(from)).toEqual([`GET ${X_PATHS.verifyCredentials} 200`]);
  });

  it('in v1.1 mode a 410 is an error, not a switch', async () => {
    const record = memoryRecord();
    const client = clientWith('v1.1', record);
    server.switchOffV1(410);
    await expect(client.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' })).rejects.toMatchObject({ status: 410 });
    expect(await record.get()).toBeUndefined();
  });
});

// Several processes share the record through the store (the two-process bot test is test/bot/v2.test.ts).
const redisUrl = process.env.REDIS_URL;
describe.each(redisUrl ? [`${redisUrl.replace(/\/\d*$/, '')}/1`] : [])('auto on one Redis (%s)', (storeUrl) => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(storeUrl);
  });
  afterAll(async () => {
    await store.namespace(PROFILE_API_NAMESPACE).clear();
    await store.close();
  });
  const recordOnStore = () => keyvRecord(store.namespace(PROFILE_API_NAMESPACE), server.consumer.key);

  it('a client that meets the switch records it; one that starts later goes straight to v2', async () => {
    const first = clientWith('auto', recordOnStore());
    const second = clientWith('auto', recordOnStore());
    await second.verifyCredentials(tokens()); // read the record (no switch yet) before the first switches
    server.switchOffV1(410);
    await first.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    expect(await recordOnStore().get()).toMatchObject({ api: 'v2', reason: 'HTTP 410 code 68' });
    // Within REREAD_MS the second still believes v1.1: its own 410 sends it to v2 at once.
    let from = server.requests.length;
    await second.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    expect(sentSince(from).map((line) => line.split(' ')[1])).toEqual([X_PATHS.updateProfileImage, X_PATHS.mediaUpload, X_PATHS.v2ProfileImage]);
    // A third, started after the switch, reads the record and never asks v1.1.
    const third = clientWith('auto', recordOnStore());
    from = server.requests.length;
    await third.uploadProfileImage(tokens(), { data: jpeg, format: 'jpeg' });
    expect(sentSince(from).map((line) => line.split(' ')[1])).toEqual([X_PATHS.mediaUpload, X_PATHS.v2ProfileImage]);
  });
});
