/**
 * The parts of a profile through the change pipeline, against the X-compatible server: a banner, a name
 * and a bio are each applied as a recorded change with their own history and their own original (saved
 * before the bot first changes that part), reverted part by part, and applied together as a kit where a
 * part X refuses leaves that part (and its original) as it was. Commands come on top of these use cases.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/bot-harness.js';
import { X_PATHS } from '../support/x-server.js';
import { fixture } from '../bot/helpers.js';
import { normalizeAvatar, normalizeBanner } from '../../src/avatar/normalize.js';
import { XApiError } from '../../src/x/errors.js';

const PROCESSING_MS = 300;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ x: { processingDelayMs: PROCESSING_MS }, env: { TWITTER_PROCESSING_DELAY_MS: String(PROCESSING_MS) } });
});
afterAll(async () => {
  await h?.close();
});

const banner = async (file: string) => {
  const { data, format } = await normalizeBanner(fixture(file));
  return { data, format };
};
const avatar = async (file: string) => {
  const { data, format } = await normalizeAvatar(fixture(file));
  return { data, format };
};

async function linked(name: string) {
  const user = h.discord.addMember({ username: name });
  const account = await h.linkUser(user, name.slice(0, 15));
  return { user, account };
}

describe('a banner', () => {
  it('is applied once X processed it, recorded in its own history, and reverted to none for a user who had no banner', async () => {
    const { user, account } = await linked('banner-none');
    expect(h.x.profileBannerUrl(account.id)).toBeUndefined();

    const applied = await h.services.avatars.applyPart(user.id, 'banner', await banner('flowers.jpeg'), 'upload', 'attachment flowers.jpeg');
    const shown = h.x.profileBannerUrl(account.id);
    expect(shown).toBeDefined();
    expect(applied.user.bannerUrl).toBe(shown);
    expect(h.x.banners.filter((upload) => upload.userId === account.id)).toHaveLength(1);
    const uploaded = h.x.banners.find((upload) => upload.userId === account.id)!;
    expect([uploaded.width, uploaded.height]).toEqual([1500, 500]);

    const history = await h.services.avatars.partHistory(user.id, 'banner');
    expect(history.entries.map((entry) => entry.url400)).toEqual([shown]);
    expect(history.original).toMatchObject({ saved: true, none: true });
    // The avatar's history is its own: a banner is not an avatar change.
    expect((await h.services.avatars.history(user.id)).entries).toEqual([]);

    const reverted = await h.services.avatars.revertPart(user.id, 'banner');
    expect(reverted.restoredOriginal).toBe(true);
    expect(h.x.profileBannerUrl(account.id)).toBeUndefined();
    expect(h.x.requests.filter((request) => request.path === X_PATHS.removeProfileBanner && request.oauthParams?.oauth_token === account.accessToken.token)).toHaveLength(1);
    expect((await h.services.avatars.partHistory(user.id, 'banner')).entries).toEqual([]);
  });

  it('a revert goes back to the banner before the current one (the original stays none)', async () => {
    const { user, account } = await linked('banner-own');
    await h.services.avatars.applyPart(user.id, 'banner', await banner('concert.jpg'), 'upload', 'theirs');
    const first = h.x.profileBannerUrl(account.id);
    await h.services.avatars.applyPart(user.id, 'banner', await banner('flowers.jpeg'), 'upload', 'second');
    expect(h.x.profileBannerUrl(account.id)).not.toBe(first);
    const back = await h.services.avatars.revertPart(user.id, 'banner');
    expect(back.restoredOriginal).toBe(false);
    expect(back.entry?.label).toBe('theirs');
    const { original } = await h.services.avatars.partHistory(user.id, 'banner');
    expect(original).toMatchObject({ saved: true, none: true }); // nothing before the bot's first change
  });
});

describe('a name and a bio', () => {
  it('are changed at once (X answers with the profile), kept apart, and reverted to the values from before the bot', async () => {
    const { user, account } = await linked('texts');
    const before = h.x.profile(account.id);
    const name = await h.services.avatars.applyPart(user.id, 'name', { text: `🎃 ${before.name}` }, 'upload', 'name');
    expect(name.user.name).toBe(`🎃 ${before.name}`);
    expect(h.x.profile(account.id).name).toBe(`🎃 ${before.name}`);
    await h.services.avatars.applyPart(user.id, 'bio', { text: 'Spooky season 👻' }, 'upload', 'bio');
    expect(h.x.profile(account.id).description).toBe('Spooky season 👻');

    expect((await h.services.avatars.partHistory(user.id, 'name')).original).toMatchObject({ saved: true, text: before.name });
    // The bio was empty before: its original is "none", and a revert empties it again.
    expect((await h.services.avatars.partHistory(user.id, 'bio')).original).toMatchObject({ saved: true, none: true });

    await h.services.avatars.revertPart(user.id, 'bio');
    expect(h.x.profile(account.id).description).toBe('');
    await h.services.avatars.revertPart(user.id, 'name');
    expect(h.x.profile(account.id).name).toBe(before.name);
    // The avatar was never touched.
    expect(h.x.uploads.filter((upload) => upload.userId === account.id)).toHaveLength(0);
  });

  it('a name X refuses (code 120) changes nothing: no history, and the original this change saved is dropped again', async () => {
    const { user, account } = await linked('refused');
    h.x.fail({ path: X_PATHS.updateProfile, status: 403, body: { errors: [{ code: 120, message: 'Account update failed: value is too long.' }] }, times: 1 });
    const refused = await h.services.avatars.applyPart(user.id, 'name', { text: 'Fine name' }, 'upload', 'name').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(XApiError);
    expect((refused as XApiError).kind).toBe('profile-text-too-long');
    const history = await h.services.avatars.partHistory(user.id, 'name');
    expect(history).toEqual({ entries: [] });
    expect(h.x.profile(account.id).name).not.toBe('Fine name');
  });
});

describe('a kit of parts', () => {
  it('applies avatar, banner, name and bio as four recorded changes, one entry in each part’s history', async () => {
    const { user, account } = await linked('kit-all');
    const before = h.x.profile(account.id);
    const results = await h.services.avatars.applyParts(
      user.id,
      { avatar: await avatar('flowers.jpeg'), banner: await banner('concert.jpg'), name: { text: `${before.name} | Team Nova` }, bio: { text: 'Team Nova 2026' } },
      'upload',
      'kit nova',
    );
    expect(Object.keys(results).sort()).toEqual(['avatar', 'banner', 'bio', 'name']);
    for (const result of Object.values(results)) expect(result).toHaveProperty('applied');
    expect(h.x.profile(account.id)).toMatchObject({ name: `${before.name} | Team Nova`, description: 'Team Nova 2026' });
    expect(h.x.profileBannerUrl(account.id)).toBeDefined();
    for (const part of ['avatar', 'banner', 'name', 'bio'] as const) {
      expect((await h.services.avatars.partHistory(user.id, part)).entries.map((entry) => entry.label)).toEqual(['kit nova']);
    }
    const square = h.x.uploads.find((upload) => upload.userId === account.id)!;
    expect((await sharp(square.bytes).metadata()).width).toBe(400);
  });

  it('a part X refuses (a banner X cannot process) leaves that part as it was; the other parts are made', async () => {
    const { user, account } = await linked('kit-refused');
    h.x.fail({ path: X_PATHS.updateProfileBanner, status: 400, body: { errors: [{ code: 0, message: 'Image could not be processed' }] }, times: 1 });
    const results = await h.services.avatars.applyParts(user.id, { banner: await banner('concert.jpg'), bio: { text: 'still here' } }, 'upload', 'kit');
    expect(results.banner).toHaveProperty('error');
    expect(results.bio).toHaveProperty('applied');
    expect(h.x.profileBannerUrl(account.id)).toBeUndefined();
    expect(await h.services.avatars.partHistory(user.id, 'banner')).toEqual({ entries: [] });
    expect(h.x.profile(account.id).description).toBe('still here');
  });
});

describe('a banner upload whose connection closes after X applied it', () => {
  it('is not sent again: the bot looks at the profile once X would have processed it', async () => {
    const { user, account } = await linked('banner-drop');
    h.x.setRequestHook((request) => {
      if (request.path !== X_PATHS.updateProfileBanner || request.userId !== account.id || request.stage !== 'applied') return;
      h.x.setRequestHook(undefined);
      return 'drop';
    });
    const applied = await h.services.avatars.applyPart(user.id, 'banner', await banner('flowers.jpeg'), 'upload', 'dropped');
    expect(applied.user.bannerUrl).toBe(h.x.profileBannerUrl(account.id));
    expect(h.x.banners.filter((upload) => upload.userId === account.id)).toHaveLength(1);
  });
});
