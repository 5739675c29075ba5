/**
 * /banner set, preview, history and revert through the real discord.js client against the Discord- and
 * X-compatible servers: what the user sees, what X received and shows, and what the bot keeps.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { normalizeBanner } from '../../src/avatar/normalize.js';
import { PREVIEW_CIRCLES, PREVIEW_HEIGHT, PREVIEW_WIDTH } from '../../src/avatar/banner.js';
import type { TestUser } from '../support/discord-server.js';
import { X_PATHS } from '../support/x-server.js';
import { buttonsOf, customIdOf, EPHEMERAL, fixture, image, SLOW_MS, useHarness } from './helpers.js';

const PROCESSING_MS = 300;
const h = useHarness({ x: { processingDelayMs: PROCESSING_MS }, env: { TWITTER_PROCESSING_DELAY_MS: String(PROCESSING_MS) } });

async function banner(user: TestUser, subcommand: 'set' | 'preview', file: string, bytes = fixture(file), options: Record<string, string> = {}) {
  const interaction = await h.discord.slash(user, { name: 'banner', subcommand, options: { image: image(file, bytes), ...options } });
  return { interaction, reply: await interaction.waitForReply((message) => message.content !== '' || message.embeds.length > 0, SLOW_MS) };
}

async function run(user: TestUser, subcommand: 'history' | 'revert') {
  const interaction = await h.discord.slash(user, { name: 'banner', subcommand });
  return { interaction, reply: await interaction.waitForReply((message) => message.content !== '' || message.embeds.length > 0, SLOW_MS) };
}

const bannersOf = (xUserId: string) => h.x.banners.filter((upload) => upload.userId === xUserId);
const solid = (width: number, height: number, background: string) => sharp({ create: { width, height, channels: 3, background } }).png().toBuffer();

/** The colour at a point of a PNG. */
async function pixel(png: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * info.channels;
  return [data[at]!, data[at + 1]!, data[at + 2]!];
}
const near = (actual: number[], expected: number[]) => actual.every((value, index) => Math.abs(value - expected[index]!) <= 12);

describe('/banner set', () => {
  it('uploads a 1500x500 banner, replies with what X shows, and records it in the banner history (not the avatar’s)', async () => {
    const user = h.discord.addMember({ username: 'banner-set' });
    const xUser = await h.linkUser(user, 'banner_set_x');
    expect(h.x.profileBannerUrl(xUser.id)).toBeUndefined();

    const { interaction, reply } = await banner(user, 'set', 'flowers.jpeg');
    expect(interaction.callbacks[0]).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    const [upload] = bannersOf(xUser.id);
    expect(bannersOf(xUser.id)).toHaveLength(1);
    expect([upload!.width, upload!.height]).toEqual([1500, 500]);
    expect(upload!.bytes.equals((await normalizeBanner(fixture('flowers.jpeg'))).data)).toBe(true);
    expect(h.x.uploads.filter((avatar) => avatar.userId === xUser.id)).toEqual([]);

    const shown = h.x.profileBannerUrl(xUser.id)!;
    expect(shown).toBeDefined();
    expect(reply.embeds[0]).toMatchObject({
      title: 'Banner updated',
      description: `@banner_set_x's X banner is now this image.\n${shown}`,
      url: shown,
      image: { url: 'attachment://banner.jpg' },
    });
    expect(interaction.files.map((file) => file.name)).toEqual(['banner.jpg']);
    expect(interaction.files[0]!.bytes.equals(upload!.bytes)).toBe(true);

    const history = await h.services.avatars.partHistory(user.id, 'banner');
    expect(history.entries).toMatchObject([{ source: 'upload', label: 'attachment flowers.jpeg', url400: shown }]);
    expect(history.original).toMatchObject({ saved: true, none: true });
    expect((await h.services.avatars.history(user.id)).entries).toEqual([]);
  });
});

describe('/banner preview', () => {
  it('shows the 2120x767 picture with X’s grey circle for a user without an avatar from the bot, then the avatar they set', async () => {
    const user = h.discord.addMember({ username: 'banner-circle' });
    await h.linkUser(user, 'banner_circle_x');
    const blue = await solid(1500, 500, '#1040c0');
    const { web, phone } = PREVIEW_CIRCLES;
    const centre = (box: { left: number; top: number; size: number }) => [box.left + Math.floor(box.size / 2), box.top + Math.floor(box.size / 2)] as const;

    const first = await banner(user, 'preview', 'blue.png', blue);
    const [grey] = first.interaction.files;
    expect(await sharp(grey!.bytes).metadata()).toMatchObject({ format: 'png', width: PREVIEW_WIDTH, height: PREVIEW_HEIGHT });
    expect([PREVIEW_WIDTH, PREVIEW_HEIGHT]).toEqual([2120, 767]);
    expect(near(await pixel(grey!.bytes, ...centre(web)), [0xcf, 0xd9, 0xde])).toBe(true);

    const red = await solid(400, 400, '#e01010');
    const set = await h.discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: image('red.png', red) } });
    expect((await set.waitForReply(undefined, SLOW_MS)).embeds[0]?.title).toBe('Avatar updated');
    const second = await banner(user, 'preview', 'blue.png', blue);
    const picture = second.interaction.files[0]!.bytes;
    expect(near(await pixel(picture, ...centre(web)), [0xe0, 0x10, 0x10])).toBe(true);
    expect(near(await pixel(picture, ...centre(phone)), [0xe0, 0x10, 0x10])).toBe(true);
    // The banner itself, above the circle.
    expect(near(await pixel(picture, PREVIEW_CIRCLES.webBanner.left + 750, PREVIEW_CIRCLES.webBanner.top + 100), [0x10, 0x40, 0xc0])).toBe(true);
  });

  it('Apply uploads the previewed banner as the banner, not as the avatar; the avatar’s Apply does not take it', async () => {
    const user = h.discord.addMember({ username: 'banner-preview' });
    const xUser = await h.linkUser(user, 'banner_preview_x');
    const requests = h.x.requests.length;

    const { interaction, reply } = await banner(user, 'preview', 'concert.jpg', fixture('concert.jpg'), { crop: 'centre' });
    expect(interaction.ephemeral).toBe(true);
    expect(reply.content).toBe(
      'This is what X will show: left, your banner on a profile page with your avatar over its lower-left corner; right, the narrower part a phone shows. Apply it?',
    );
    expect(buttonsOf(reply).map((button) => button.label)).toEqual(['Apply', 'Cancel']);
    expect(interaction.files.map((file) => file.name)).toEqual(['banner-preview.png']);
    expect(await sharp(interaction.files[0]!.bytes).metadata()).toMatchObject({ width: 2120, height: 767 });
    expect(h.x.requests.slice(requests).filter((request) => request.path === X_PATHS.updateProfileBanner)).toEqual([]);

    const previewId = customIdOf(reply, 'banner:apply:').slice('banner:apply:'.length);
    // What /avatar's Apply calls, given this id (a forged button): a banner preview is not an avatar preview, and stays usable.
    await expect(h.services.avatars.applyPreview(user.id, previewId)).rejects.toMatchObject({ kind: 'preview-expired' });
    expect(h.x.uploads.filter((upload) => upload.userId === xUser.id)).toEqual([]);

    const apply = await interaction.click(`banner:apply:${previewId}`);
    const applied = await interaction.waitForReply((message) => message.embeds[0]?.title === 'Banner updated', SLOW_MS);
    expect(apply.callbacks[0]?.type).toBe(7);
    expect(applied.components).toEqual([]);
    expect(bannersOf(xUser.id)).toHaveLength(1);
    expect(bannersOf(xUser.id)[0]!.bytes.equals((await normalizeBanner(fixture('concert.jpg'), { crop: 'centre' })).data)).toBe(true);
    expect(h.x.uploads.filter((upload) => upload.userId === xUser.id)).toEqual([]);
    expect(applied.embeds[0]?.url).toBe(h.x.profileBannerUrl(xUser.id));
    expect((await h.services.avatars.partHistory(user.id, 'banner')).entries).toMatchObject([{ source: 'preview', label: 'attachment concert.jpg' }]);
    expect((await h.services.avatars.history(user.id)).entries).toEqual([]);
  });

  it('Cancel uploads nothing and forgets the preview', async () => {
    const user = h.discord.addMember({ username: 'banner-cancel' });
    const xUser = await h.linkUser(user, 'banner_cancel_x');
    const { interaction, reply } = await banner(user, 'preview', 'flowers.jpeg');
    const previewId = customIdOf(reply, 'banner:cancel:').slice('banner:cancel:'.length);
    await interaction.click(`banner:cancel:${previewId}`);
    const cancelled = await interaction.waitForReply((message) => message.content.startsWith('Cancelled'));
    expect(cancelled.content).toBe('Cancelled: nothing was changed.');
    expect(bannersOf(xUser.id)).toEqual([]);
    await expect(h.services.avatars.applyPartPreview(user.id, previewId, 'banner')).rejects.toMatchObject({ kind: 'preview-expired' });
  });
});

describe('banner previews share the cap of 3 with avatar previews', () => {
  it('a fourth preview replaces the oldest, whose Apply says so in the banner’s words and uploads nothing', async () => {
    const user = h.discord.addMember({ username: 'banner-many' });
    const xUser = await h.linkUser(user, 'banner_many_x');
    const first = await banner(user, 'preview', 'flowers.jpeg');
    const avatar = await h.discord.slash(user, { name: 'avatar', subcommand: 'preview', options: { image: image('a.jpg', fixture('flowers.jpeg')) } });
    await avatar.waitForReply(undefined, SLOW_MS);
    await banner(user, 'preview', 'concert.jpg');
    await banner(user, 'preview', 'flowers.jpeg');

    await first.interaction.click(customIdOf(first.reply, 'banner:apply:'));
    const refused = await first.interaction.waitForReply((message) => message.content.startsWith('That preview was replaced'), SLOW_MS);
    expect(refused.content).toBe('That preview was replaced by newer ones (you can keep 3 at a time). Run /banner preview again.');
    expect(bannersOf(xUser.id)).toEqual([]);
  });
});

describe('/banner history and /banner revert', () => {
  it('list the banners, and go back step by step to none, then say there is nothing to revert, in the banner’s words', async () => {
    const user = h.discord.addMember({ username: 'banner-back' });
    const xUser = await h.linkUser(user, 'banner_back_x');
    await banner(user, 'set', 'flowers.jpeg');
    const first = h.x.profileBannerUrl(xUser.id)!;
    await banner(user, 'set', 'concert.jpg');
    const second = h.x.profileBannerUrl(xUser.id)!;
    expect(second).not.toBe(first);

    const listed = (await run(user, 'history')).reply;
    expect(listed.content).toBe('You had no banner before the bot: /banner revert goes back step by step, down to none.');
    expect(listed.embeds.map((embed) => embed.title)).toEqual(['Current', '1 change ago']);
    expect(listed.embeds[0]?.description).toMatch(new RegExp(`^<t:\\d+:f> · upload · attachment concert\\.jpg\\n${second.replace(/[.?]/g, '\\$&')}$`));
    expect(listed.embeds[1]?.description).toContain(first);

    const back = (await run(user, 'revert')).reply;
    expect(back.embeds[0]).toMatchObject({ title: 'Previous banner restored', url: h.x.profileBannerUrl(xUser.id) });
    expect(h.x.profileBannerUrl(xUser.id)).not.toBe(second);

    const none = (await run(user, 'revert')).reply;
    expect(none.embeds[0]).toMatchObject({ title: 'Banner removed', description: "@banner_back_x's X profile has no banner now, as before the bot." });
    expect(h.x.profileBannerUrl(xUser.id)).toBeUndefined();
    expect(h.x.requests.filter((request) => request.path === X_PATHS.removeProfileBanner && request.oauthParams?.oauth_token === xUser.accessToken.token)).toHaveLength(1);

    const nothing = await run(user, 'revert');
    expect(nothing.reply.content).toBe('There is nothing to revert: your X banner is the one you had before using the bot.');
    expect((await run(user, 'history')).reply.content).toBe('No banners applied through the bot yet. Use /banner set.');
  });
});
