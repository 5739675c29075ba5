/**
 * /profile name, bio, apply, revert and history through the real discord.js client against the Discord- and
 * X-compatible servers: X's limits counted as X counts them (graphemes) before anything is sent, several
 * parts applied at once and each reverted on its own to what the user had before the bot, and the replies
 * in the user's language.
 */
import { escapeMarkdown } from 'discord.js';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { errorWords } from '../../src/i18n/render-error.js';
import { t } from '../../src/i18n/t.js';
import { ProfileTextError } from '../../src/profile/text.js';
import type { OptionValue, TestUser } from '../support/discord-server.js';
import { EPHEMERAL, fixture, image, SLOW_MS, useHarness } from './helpers.js';
import { X_PATHS } from '../support/x-server.js';

const PROCESSING_MS = 300;
const h = useHarness({ x: { processingDelayMs: PROCESSING_MS }, env: { TWITTER_PROCESSING_DELAY_MS: String(PROCESSING_MS) } });

/** 50 characters to X: families joined by ZWJ (11 UTF-16 units each), flags, a ZWJ flag and a skin tone. */
const FIFTY_EMOJI = ['👨‍👩‍👧‍👦', '🇩🇪', '🇯🇵', '🏳️‍🌈', '👍🏽'].join('').repeat(10);

async function profile(user: TestUser, subcommand: string, options: Record<string, OptionValue> = {}, locale?: 'de' | 'ja') {
  const interaction = await h.discord.slash(user, { name: 'profile', subcommand, options }, locale ? { locale } : undefined);
  return { interaction, reply: await interaction.waitForReply((message) => message.content !== '' || message.embeds.length > 0, SLOW_MS) };
}

describe('/profile name', () => {
  it('a name of 51 characters (emoji, as X counts them) is refused with the count and the limit before any request to X', async () => {
    const user = h.discord.addMember({ username: 'name-long' });
    const xUser = await h.linkUser(user, 'name_long_x');
    const before = h.x.profile(xUser.id).name;
    const requests = h.x.requests.length;
    expect(FIFTY_EMOJI.length).toBe(290); // Discord's own count, which the option's max_length is in

    const { interaction, reply } = await profile(user, 'name', { text: `${FIFTY_EMOJI}😀` });
    expect(interaction.ephemeral).toBe(true);
    expect(reply.content).toBe('That name has 51 characters; X allows at most 50 in a display name.');
    expect(h.x.requests.length).toBe(requests);
    expect(h.x.profile(xUser.id).name).toBe(before);
    expect(await h.services.avatars.partHistory(user.id, 'name')).toEqual({ entries: [] });
  });

  it('a name of 50 emoji with ZWJ families and flags is accepted, shown by X and recorded with the name from before', async () => {
    const user = h.discord.addMember({ username: 'name-emoji' });
    const xUser = await h.linkUser(user, 'name_emoji_x');
    const before = h.x.profile(xUser.id).name;

    const { interaction, reply } = await profile(user, 'name', { text: FIFTY_EMOJI });
    expect(interaction.callbacks[0]).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(h.x.profile(xUser.id).name).toBe(FIFTY_EMOJI);
    expect(reply.embeds[0]).toMatchObject({ title: 'Display name changed', description: `@name_emoji_x's X display name is now: ${FIFTY_EMOJI}` });
    const history = await h.services.avatars.partHistory(user.id, 'name');
    expect(history.entries).toMatchObject([{ text: FIFTY_EMOJI, url400: FIFTY_EMOJI, label: 'profile name' }]);
    expect(history.original).toMatchObject({ saved: true, text: before });

    const listed = (await profile(user, 'history', { part: 'name' })).reply;
    expect(listed.content).toBe(`Before the bot: ${escapeMarkdown(before)}\n/profile revert goes back step by step.`);
    expect(listed.embeds[0]?.fields?.map((field) => field.name)).toEqual(['Current']);
    expect(listed.embeds[0]?.fields?.[0]?.value).toMatch(new RegExp(`^${FIFTY_EMOJI.replace(/[*+?]/g, '\\$&')}\\n<t:\\d+:f> · upload$`, 'u'));
  });
});

describe('what X answers', () => {
  it('a name of 100,000 characters in X’s answer is held to X’s own bound: the reply still shows and the history keeps no more', async () => {
    const user = h.discord.addMember({ username: 'name-huge' });
    const xUser = await h.linkUser(user, 'name_huge_x');
    const huge = 'A'.repeat(100_000);
    h.x.fail({ path: X_PATHS.updateProfile, status: 200, body: { id_str: xUser.id, screen_name: 'name_huge_x', name: huge, description: huge, profile_image_url_https: h.x.profileImageUrl(xUser.id) } });

    const { reply } = await profile(user, 'name', { text: 'Fine' });
    expect(reply.embeds[0]?.title).toBe('Display name changed');
    expect(reply.embeds[0]?.description?.length).toBeLessThanOrEqual(4096);
    const [entry] = (await h.services.avatars.partHistory(user.id, 'name')).entries;
    expect(entry?.url400.length).toBeLessThanOrEqual(800);
  });
});

describe('/profile bio', () => {
  it('sets a bio, clears it with clear, and asks for one of the two when given neither', async () => {
    const user = h.discord.addMember({ username: 'bio-user' });
    const xUser = await h.linkUser(user, 'bio_user_x');

    const set = (await profile(user, 'bio', { text: 'Makes *bold* claims 🎉' })).reply;
    expect(h.x.profile(xUser.id).description).toBe('Makes *bold* claims 🎉');
    expect(set.embeds[0]).toMatchObject({ title: 'Bio changed', description: "@bio_user_x's X bio is now:\nMakes \\*bold\\* claims 🎉" });

    const cleared = (await profile(user, 'bio', { clear: true })).reply;
    expect(h.x.profile(xUser.id).description).toBe('');
    expect(cleared.embeds[0]).toMatchObject({ title: 'Bio cleared', description: "@bio_user_x's X bio is empty now." });
    expect((await h.services.avatars.partHistory(user.id, 'bio')).entries.map((entry) => entry.text)).toEqual(['Makes *bold* claims 🎉', '']);

    const requests = h.x.requests.length;
    expect((await profile(user, 'bio')).reply.content).toBe('Give either a text for your bio or clear to empty it (one of the two).');
    expect((await profile(user, 'bio', { text: 'both', clear: true })).reply.content).toBe('Give either a text for your bio or clear to empty it (one of the two).');
    const long = 'b'.repeat(161);
    expect((await profile(user, 'bio', { text: long })).reply.content).toBe('That bio has 161 characters; X allows at most 160.');
    expect(h.x.requests.length).toBe(requests);
  });
});

describe('/profile apply and /profile revert', () => {
  it('apply changes avatar, banner, name and bio, each recorded; revert brings each part back to its original on its own', async () => {
    const user = h.discord.addMember({ username: 'kit-user' });
    const xUser = await h.linkUser(user, 'kit_user_x');
    const before = h.x.profile(xUser.id);
    const avatarBefore = h.x.profileImageUrl(xUser.id);
    expect(h.x.profileBannerUrl(xUser.id)).toBeUndefined();

    const { reply } = await profile(user, 'apply', {
      avatar: image('face.jpg', fixture('flowers.jpeg')),
      banner: image('header.jpg', fixture('concert.jpg')),
      name: 'Nova 🚀',
      bio: 'Team Nova 2026',
    });
    const banner = h.x.profileBannerUrl(xUser.id)!;
    const avatar400 = h.x.profileImageUrl(xUser.id).replace('_normal', '_400x400');
    expect(banner).toBeDefined();
    expect(h.x.profile(xUser.id)).toMatchObject({ name: 'Nova 🚀', description: 'Team Nova 2026' });
    expect(reply.embeds[0]?.title).toBe('Your profile');
    expect(reply.embeds[0]?.fields).toEqual([
      { name: 'Avatar', value: `Changed. 400x400: ${avatar400}` },
      { name: 'Banner', value: `Changed: ${banner}` },
      { name: 'Display name', value: 'Changed: Nova 🚀' },
      { name: 'Bio', value: 'Changed: Team Nova 2026' },
    ]);
    const square = h.x.uploads.filter((upload) => upload.userId === xUser.id);
    expect(square).toHaveLength(1);
    expect([square[0]!.width, square[0]!.height]).toEqual([400, 400]);
    expect((await sharp(h.x.banners.find((upload) => upload.userId === xUser.id)!.bytes).metadata()).width).toBe(1500);
    for (const part of ['avatar', 'banner', 'name', 'bio'] as const) {
      expect((await h.services.avatars.partHistory(user.id, part)).entries.map((entry) => entry.label), part).toEqual(['profile apply']);
    }

    // Part by part: each goes back to what it was before the bot, and only that part moves.
    const name = (await profile(user, 'revert', { part: 'name' })).reply;
    expect(name.embeds[0]?.title).toBe('Original display name restored');
    expect(h.x.profile(xUser.id)).toMatchObject({ name: before.name, description: 'Team Nova 2026' });
    expect(h.x.profileBannerUrl(xUser.id)).toBe(banner);

    const bio = (await profile(user, 'revert', { part: 'bio' })).reply;
    expect(bio.embeds[0]?.title).toBe('Bio cleared');
    expect(h.x.profile(xUser.id).description).toBe(before.description);

    const removed = (await profile(user, 'revert', { part: 'banner' })).reply;
    expect(removed.embeds[0]?.title).toBe('Banner removed');
    expect(h.x.profileBannerUrl(xUser.id)).toBeUndefined();

    const { original } = await h.services.avatars.partHistory(user.id, 'avatar');
    const saved = original?.saved && original.hash ? await h.services.avatars.historyImage(user.id, original.hash) : undefined;
    expect(saved).toBeDefined();
    const restored = (await profile(user, 'revert', { part: 'avatar' })).reply;
    expect(restored.embeds[0]?.title).toBe('Original avatar restored');
    const uploads = h.x.uploads.filter((upload) => upload.userId === xUser.id);
    expect(uploads).toHaveLength(2);
    expect(uploads[1]!.bytes.equals(saved!.data)).toBe(true);
    expect(h.x.profileImageUrl(xUser.id)).not.toBe(avatarBefore); // X gives the re-uploaded original a new URL

    for (const part of ['avatar', 'banner', 'name', 'bio'] as const) expect((await h.services.avatars.partHistory(user.id, part)).entries, part).toEqual([]);
    expect((await profile(user, 'revert', { part: 'bio' })).reply.content).toBe('There is nothing to revert: your X bio is the one you had before using the bot.');
  });

  it('apply with nothing to change, or with a name over the limit, is refused before anything is downloaded or sent', async () => {
    const user = h.discord.addMember({ username: 'kit-refused' });
    await h.linkUser(user, 'kit_refused_x');
    const url = h.discord.serveFile('never.jpg', fixture('flowers.jpeg'));
    const downloads = () => h.discord.downloads.filter((download) => download.path === new URL(url).pathname);
    const requests = h.x.requests.length;

    expect((await profile(user, 'apply')).reply.content).toBe('Nothing to change: give at least one of avatar, banner, name or bio.');
    const long = await profile(user, 'apply', { banner: { attachment: { filename: 'never.jpg', url, size: fixture('flowers.jpeg').length } }, name: 'n'.repeat(51) });
    expect(long.reply.content).toBe('That name has 51 characters; X allows at most 50 in a display name.');
    expect(downloads()).toEqual([]);
    expect(h.x.requests.length).toBe(requests);
  });
});

describe('in the user’s language', () => {
  it('a de user is told in German that a name is too long', async () => {
    const user = h.discord.addMember({ username: 'name-de' });
    await h.linkUser(user, 'name_de_x');
    const { reply } = await profile(user, 'name', { text: 'n'.repeat(51) }, 'de');
    expect(reply.content).toBe('Dieser Name hat 51 Zeichen; X erlaubt für Anzeigenamen höchstens 50.');
    expect(reply.content).toBe(errorWords(new ProfileTextError('text-too-long', { length: 51, max: 50 }, { variant: 'name' }), 'de', 'bot'));
  });

  it('a ja user gets the changed bio and its revert in Japanese', async () => {
    const user = h.discord.addMember({ username: 'bio-ja' });
    await h.linkUser(user, 'bio_ja_x');
    const set = (await profile(user, 'bio', { text: 'こんにちは' }, 'ja')).reply;
    expect(set.embeds[0]).toMatchObject({ title: t('ja', 'profile.applied.bio.updated'), description: t('ja', 'profile.applied.bio.description', { screenName: 'bio_ja_x', bio: 'こんにちは' }) });
    const back = (await profile(user, 'revert', { part: 'bio' }, 'ja')).reply;
    expect(back.embeds[0]).toMatchObject({ title: t('ja', 'profile.applied.bio.cleared'), description: t('ja', 'profile.applied.bio.cleared-description', { screenName: 'bio_ja_x' }) });
    const nothing = (await profile(user, 'revert', { part: 'bio' }, 'ja')).reply;
    expect(nothing.content).toBe(t('ja', 'error.nothing-to-revert.bio'));
  });
});
