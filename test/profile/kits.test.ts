/**
 * Kits in the library (any of an avatar image, a banner image, a name template and a bio template under
 * one name) and applying them against the X-compatible server: `{name}` and `{bio}` keep each user's own
 * value from before the kit, shortened at a grapheme boundary when the result would be over X's limit
 * (the fixed text never is), and a second kit does not stack on the first.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/bot-harness.js';
import { fixture } from '../bot/helpers.js';
import { normalizeAvatar, normalizeBanner } from '../../src/avatar/normalize.js';
import { LibraryError } from '../../src/library/store.js';
import { ProfileTextError } from '../../src/profile/text.js';
import type { Kit } from '../../src/library/store.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ x: { processingDelayMs: 200 }, env: { TWITTER_PROCESSING_DELAY_MS: '200' } });
});
afterAll(async () => {
  await h?.close();
});

const avatar = async (file: string) => {
  const { data, format } = await normalizeAvatar(fixture(file));
  return { data, format };
};
const banner = async (file: string) => {
  const { data, format } = await normalizeBanner(fixture(file));
  return { data, format };
};

async function linked(name: string, displayName: string) {
  const user = h.discord.addMember({ username: name });
  const account = await h.linkUser(user, name.slice(0, 15));
  h.x.setProfile(account.id, { name: displayName });
  return { user, account };
}

async function kitOf(userId: string, name: string): Promise<Kit> {
  const kit = await h.services.library.getKit(userId, name);
  if (!kit) throw new Error(`no kit ${name}`);
  return kit;
}

describe('a kit in the library', () => {
  it('needs a part, a fixed text within X’s limit, and a name no image or kit of the user has', async () => {
    const { user } = await linked('kit-rules', 'Rules');
    await expect(h.services.library.addKit(user.id, 'nothing', {})).rejects.toMatchObject({ kind: 'empty-kit' });
    const tooLong = await h.services.library.addKit(user.id, 'long', { nameTemplate: `${'x'.repeat(50)} {name}` }).catch((error: unknown) => error);
    expect(tooLong).toBeInstanceOf(ProfileTextError);
    expect(tooLong).toMatchObject({ kind: 'template-too-long' });
    await h.services.library.add(user.id, 'nova', await avatar('flowers.jpeg'));
    await expect(h.services.library.addKit(user.id, 'Nova', { nameTemplate: '{name} | Nova' })).rejects.toBeInstanceOf(LibraryError);
    const kit = await h.services.library.addKit(user.id, 'nova kit', { avatar: await avatar('flowers.jpeg'), banner: await banner('concert.jpg'), nameTemplate: '{name} | Nova' });
    expect(kit).toMatchObject({ name: 'nova kit', nameTemplate: '{name} | Nova' });
    expect(await h.services.library.search(user.id, 'nova')).toEqual(['nova', 'nova kit']);
  });

  it('removing a kit drops its images unless an image of the library still uses them', async () => {
    const { user } = await linked('kit-remove', 'Remove');
    const shared = await avatar('flowers.jpeg');
    await h.services.library.add(user.id, 'flowers', shared);
    await h.services.library.addKit(user.id, 'kit', { avatar: shared, banner: await banner('concert.jpg') });
    const imagesBefore = await h.records.store.namespace('library-images').get(`${user.id}:${(await h.services.library.get(user.id, 'flowers'))!.hash}`);
    expect(imagesBefore).toBeDefined();
    const kit = await kitOf(user.id, 'kit');
    await h.services.library.remove(user.id, 'kit');
    expect(await h.services.library.getKit(user.id, 'kit')).toBeUndefined();
    // The avatar is the image "flowers" still uses; the banner was the kit's alone.
    expect(await h.records.store.namespace('library-images').get(`${user.id}:${kit.avatar!.hash}`)).toBeDefined();
    expect(await h.records.store.namespace('library-images').get(`${user.id}:${kit.banner!.hash}`)).toBeUndefined();
  });
});

describe('applying a kit', () => {
  it('keeps each user’s own name in "🎃 {name}", and changes every part of the kit', async () => {
    const ana = await linked('kit-ana', 'Ana');
    const bo = await linked('kit-bo', 'Bo Li');
    for (const member of [ana, bo]) {
      await h.services.library.addKit(member.user.id, 'halloween', { avatar: await avatar('flowers.jpeg'), banner: await banner('concert.jpg'), nameTemplate: '🎃 {name}', bioTemplate: 'Spooky 👻 {bio}' });
      const results = await h.services.kits.apply(member.user.id, await kitOf(member.user.id, 'halloween'), 'upload', 'kit halloween');
      expect(Object.keys(results).sort()).toEqual(['avatar', 'banner', 'bio', 'name']);
    }
    expect(h.x.profile(ana.account.id)).toMatchObject({ name: '🎃 Ana', description: 'Spooky 👻 ' });
    expect(h.x.profile(bo.account.id).name).toBe('🎃 Bo Li');
    expect(h.x.profileBannerUrl(ana.account.id)).toBeDefined();
  });

  it('a second kit starts from the name before the first, not from the first kit’s result', async () => {
    const { user, account } = await linked('kit-twice', 'Cleo');
    await h.services.library.addKit(user.id, 'pumpkin', { nameTemplate: '🎃 {name}' });
    await h.services.library.addKit(user.id, 'team', { nameTemplate: '{name} | Team Nova' });
    await h.services.kits.apply(user.id, await kitOf(user.id, 'pumpkin'), 'upload', 'kit pumpkin');
    expect(h.x.profile(account.id).name).toBe('🎃 Cleo');
    await h.services.kits.apply(user.id, await kitOf(user.id, 'team'), 'upload', 'kit team');
    expect(h.x.profile(account.id).name).toBe('Cleo | Team Nova');
  });

  it('a name the user chose on X after the kit is their own value from then on', async () => {
    const { user, account } = await linked('kit-renamed', 'Dana');
    await h.services.library.addKit(user.id, 'pumpkin', { nameTemplate: '🎃 {name}' });
    await h.services.kits.apply(user.id, await kitOf(user.id, 'pumpkin'), 'upload', 'kit pumpkin');
    h.x.setProfile(account.id, { name: 'Dana K.' }); // renamed on X by hand
    await h.services.kits.apply(user.id, await kitOf(user.id, 'pumpkin'), 'upload', 'kit pumpkin');
    expect(h.x.profile(account.id).name).toBe('🎃 Dana K.');
  });

  it('shortens only the user’s own part, at a grapheme boundary with "…", when the result is over X’s limit', async () => {
    const own = `${'👩‍👩‍👧'.repeat(30)}🇩🇪${'e\u0301'.repeat(20)}`; // 51 graphemes: families, a flag, e + U+0301
    const fifty = [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(own)].slice(0, 50).map((part) => part.segment).join('');
    const { user, account } = await linked('kit-long', fifty);
    await h.services.library.addKit(user.id, 'tag', { nameTemplate: '{name} | Team Nova' });
    await h.services.kits.apply(user.id, await kitOf(user.id, 'tag'), 'upload', 'kit tag');
    const name = h.x.profile(account.id).name;
    expect(name.endsWith('… | Team Nova')).toBe(true);
    const graphemes = [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(name)];
    expect(graphemes).toHaveLength(50);
    expect(graphemes.every((grapheme) => !grapheme.segment.includes('\uFFFD'))).toBe(true);
    expect(name.startsWith('👩‍👩‍👧'.repeat(30))).toBe(true); // whole families kept, none cut in half
  });
});

describe('/library kit through the real discord.js client', () => {
  it('stores a kit with a 1500x500 banner and a template, lists it, and refuses an empty kit or an over-long fixed text before downloading', async () => {
    const { user } = await linked('kit-command', 'Eve');
    const downloads = () => h.discord.downloads.length;
    const kit = await h.discord.slash(user, {
      name: 'library',
      subcommand: 'kit',
      options: { name: 'nova', banner: { attachment: { filename: 'b.jpg', bytes: fixture('concert.jpg') } }, 'name-template': '{name} | Nova', 'bio-template': 'Team Nova' },
    });
    expect((await kit.waitForReply(undefined, 15_000)).content).toBe('Saved the kit "nova": banner · name “{name} | Nova” · bio “Team Nova”.');
    const stored = await kitOf(user.id, 'nova');
    expect(stored.images.banner).toBeDefined();
    expect((await sharp(stored.images.banner!.data).metadata()).width).toBe(1500);

    const list = await h.discord.slash(user, { name: 'library', subcommand: 'list' });
    expect((await list.waitForReply()).content).toContain('**nova**: banner · name “{name} | Nova” · bio “Team Nova”');

    const before = downloads();
    const empty = await h.discord.slash(user, { name: 'library', subcommand: 'kit', options: { name: 'empty' } });
    expect((await empty.waitForReply()).content).toContain('A kit needs at least one part');
    const long = await h.discord.slash(user, {
      name: 'library',
      subcommand: 'kit',
      options: { name: 'long', avatar: { attachment: { filename: 'a.jpg', bytes: fixture('flowers.jpeg') } }, 'name-template': `${'x'.repeat(49)}🎃🎃 {name}` },
    });
    expect((await long.waitForReply()).content).toContain('has 52 characters, more than the 50 X allows');
    expect(downloads()).toBe(before);
    expect(await h.services.library.getKit(user.id, 'long')).toBeUndefined();
  });
});

describe('/profile kit through the real discord.js client', () => {
  it('applies a kit of the library to the user’s own profile, part by part, with their own name in the template', async () => {
    const { user, account } = await linked('kit-self', 'Fay');
    await h.services.library.addKit(user.id, 'nova', { banner: await banner('concert.jpg'), nameTemplate: '{name} | Nova' });
    expect(await h.discord.autocomplete(user, { name: 'profile', subcommand: 'kit', options: { name: 'no' } }, 'name')).toEqual([{ name: 'nova', value: 'nova' }]);
    const applied = await h.discord.slash(user, { name: 'profile', subcommand: 'kit', options: { name: 'nova' } });
    const reply = await applied.waitForReply((message) => message.embeds.length > 0, 15_000);
    expect(reply.embeds[0]?.fields?.map((field) => field.name)).toEqual(['Banner', 'Display name']);
    expect(h.x.profile(account.id).name).toBe('Fay | Nova');
    expect(h.x.profileBannerUrl(account.id)).toBeDefined();
    expect((await h.services.avatars.partHistory(user.id, 'name')).entries.map((entry) => entry.label)).toEqual(['kit nova']);

    const missing = await h.discord.slash(user, { name: 'profile', subcommand: 'kit', options: { name: 'gone' } });
    expect((await missing.waitForReply()).content).toContain('Your library has no kit called "gone"');
  });
});
