/**
 * Schedules that name a kit, end to end: the real bot and discord.js client against the Discord- and
 * X-compatible servers, node-cron, and the scheduler's clock moved forward (node-cron fires on the real
 * clock, shifted by the same amount), as in scheduled-avatars.test.ts. A kit's parts change at the start
 * of its season, and at its end every part it changed is put back as it was before: the name X showed,
 * the banner from before (none for a user who had none). A restart in the middle of a kit's change
 * finishes it without sending a part twice.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeAvatar, normalizeBanner } from '../../src/avatar/normalize.js';
import { startHarness, type Harness } from '../support/bot-harness.js';
import type { OptionValue, TestUser } from '../support/discord-server.js';
import { X_PATHS, type FakeXUser } from '../support/x-server.js';
import { fixture } from '../bot/helpers.js';
import { eventually } from '../support/eventually.js';

const clock = { offset: 0, now: () => Date.now() + clock.offset };
/** Move the scheduler's clock so that `at` is `leadMs` away. */
const setNow = (at: Date | number, leadMs = 0) => {
  clock.offset = new Date(at).getTime() - leadMs - Date.now();
};
const DAY_MS = 86_400_000;
/** 00:00 UTC `days` from the real today. */
const midnightIn = (days: number) => new Date(`${new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10)}T00:00:00Z`);
const monthDay = (date: Date) => date.toISOString().slice(5, 10);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ clock, env: { SCHEDULE_MIN_INTERVAL_MS: '1500' } });
});
afterAll(async () => {
  clock.offset = 0;
  expect(h.discord.unexpectedCalls).toEqual([]);
  await h?.close();
});

async function schedule(user: TestUser, subcommand: string, options: Record<string, OptionValue> = {}) {
  const interaction = await h.discord.slash(user, { name: 'schedule', subcommand, options });
  return (await interaction.waitForReply(undefined, 15_000)).content;
}

async function newUser(name: string, displayName: string, bio = ''): Promise<{ user: TestUser; account: FakeXUser }> {
  const user = h.discord.addMember({ username: name });
  const account = await h.linkUser(user, name);
  h.x.setProfile(account.id, { name: displayName, description: bio });
  return { user, account };
}

const colour = async (background: string) => ({ data: await sharp({ create: { width: 400, height: 400, channels: 3, background } }).jpeg().toBuffer(), format: 'jpeg' as const });
const banner = async (file: string) => {
  const { data, format } = await normalizeBanner(fixture(file));
  return { data, format };
};
const avatarOf = async (file: string) => {
  const { data, format } = await normalizeAvatar(fixture(file));
  return { data, format };
};
const uploadsOf = (account: FakeXUser) => h.x.uploads.filter((upload) => upload.userId === account.id);
const bannersOf = (account: FakeXUser) => h.x.banners.filter((upload) => upload.userId === account.id);
/** update_profile requests (a name or bio sent) for the account. */
const profileWrites = (account: FakeXUser) => h.x.requests.filter((request) => request.path === X_PATHS.updateProfile && request.oauthParams?.oauth_token === account.accessToken.token);
const removals = (account: FakeXUser) => h.x.requests.filter((request) => request.path === X_PATHS.removeProfileBanner && request.oauthParams?.oauth_token === account.accessToken.token);
const applied = async (user: TestUser, image: string) => eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe(image), 15_000, 50);

describe('a season that names a kit', () => {
  it('changes the avatar, banner and name at its start; at its end the default image is back and the name and banner are restored', async () => {
    clock.offset = 0;
    // Ana has no banner; Bo has one of his own (set through the bot before any schedule).
    const ana = await newUser('kit_season_ana', 'Ana');
    const bo = await newUser('kit_season_bo', 'Bo Li');
    const own = await banner('flowers.jpeg');
    await h.services.avatars.applyPart(bo.user.id, 'banner', own, 'upload', 'my banner');
    const ownBannerUrl = h.x.profileBannerUrl(bo.account.id);
    expect(ownBannerUrl).toBeDefined();
    const start = midnightIn(2);
    const end = midnightIn(3);
    for (const { user, account } of [ana, bo]) {
      const usual = await colour('#777777');
      await h.services.library.add(user.id, 'usual', usual);
      const kitAvatar = await avatarOf('flowers.jpeg');
      await h.services.library.addKit(user.id, 'halloween', { avatar: kitAvatar, banner: await banner('concert.jpg'), nameTemplate: '🎃 {name}' });
      // The image option offers kits too.
      expect(await h.discord.autocomplete(user, { name: 'schedule', subcommand: 'season', options: { image: 'hal' } }, 'image')).toEqual([{ name: 'halloween', value: 'halloween' }]);
      expect(await schedule(user, 'default', { image: 'usual' })).toMatch(/^Your default image is "usual"\./);
      await h.discord.waitFor(() => uploadsOf(account).length === 1, 10_000, 'the default image');
      expect(uploadsOf(account)[0]!.bytes.equals(usual.data)).toBe(true);
      await applied(user, 'usual');
      expect(await schedule(user, 'season', { image: 'halloween', from: monthDay(start), to: monthDay(start) })).toMatch(/^Added: season .* → halloween \(times in UTC\)\./);
    }
    const bannersBefore = { ana: bannersOf(ana.account).length, bo: bannersOf(bo.account).length };

    setNow(start, 1500);
    for (const { user } of [ana, bo]) await h.services.scheduler.refresh(user.id);
    for (const [who, { user, account }] of [['ana', ana], ['bo', bo]] as const) {
      await h.discord.waitFor(() => uploadsOf(account).length === 2, 10_000, `${who}: the kit's avatar`);
      await applied(user, 'halloween');
      expect(uploadsOf(account)[1]!.bytes.equals((await h.services.library.getKit(user.id, 'halloween'))!.images.avatar!.data)).toBe(true);
      expect(bannersOf(account)).toHaveLength(bannersBefore[who] + 1);
      expect(h.x.profileBannerUrl(account.id)).toBeDefined();
      // The DM names the parts the kit changed.
      const dm = await h.discord.waitForDm(user.id, (message) => message.embeds[0]?.title === 'Scheduled kit: halloween');
      expect(dm.message.embeds[0]?.description).toContain('Changed: avatar, banner, and name.');
      expect(dm.files).toHaveLength(1);
    }
    expect(h.x.profile(ana.account.id).name).toBe('🎃 Ana');
    expect(h.x.profile(bo.account.id).name).toBe('🎃 Bo Li');
    expect(h.x.profileBannerUrl(bo.account.id)).not.toBe(ownBannerUrl);

    setNow(end, 1500);
    for (const { user } of [ana, bo]) await h.services.scheduler.refresh(user.id);
    for (const [who, { user, account }] of [['ana', ana], ['bo', bo]] as const) {
      await h.discord.waitFor(() => uploadsOf(account).length === 3, 10_000, `${who}: the default image back`);
      await applied(user, 'usual');
      expect(uploadsOf(account)[2]!.bytes.equals(uploadsOf(account)[0]!.bytes)).toBe(true);
      const dm = await h.discord.waitForDm(user.id, (message) => message.embeds[0]?.title === 'Scheduled avatar: usual' && (message.embeds[0]?.description ?? '').includes('before the kit'));
      expect(dm.message.embeds[0]?.description).toContain('Back to what you had before the kit: banner and name.');
      const record = await h.services.schedules.get(user.id);
      expect(record.applied?.parts).toBeUndefined();
      expect(record.changing).toBeUndefined();
    }
    // The names from before, not the kit's: and the banner from before, none for Ana.
    expect(h.x.profile(ana.account.id).name).toBe('Ana');
    expect(h.x.profile(bo.account.id).name).toBe('Bo Li');
    expect(h.x.profileBannerUrl(ana.account.id)).toBeUndefined();
    expect(removals(ana.account)).toHaveLength(1);
    const boBanners = bannersOf(bo.account);
    expect(boBanners).toHaveLength(bannersBefore.bo + 2);
    expect(boBanners.at(-1)!.bytes.equals(own.data)).toBe(true); // his own banner uploaded again
    expect(h.x.profileBannerUrl(bo.account.id)).toBeDefined();
    expect((await h.services.avatars.partHistory(bo.user.id, 'banner')).entries.map((entry) => entry.label)).toEqual(['my banner']);
    // Nothing more happens: each part was changed once and restored once.
    await new Promise((done) => setTimeout(done, 1500));
    expect(uploadsOf(ana.account)).toHaveLength(3);
    expect(profileWrites(ana.account)).toHaveLength(2);
    expect(removals(ana.account)).toHaveLength(1);
    clock.offset = 0;
  });
});

describe('a rotation between two kits', () => {
  it('changes only what each kit sets and restores what the other one set', async () => {
    // Half past the next hour: the first step's next change is then 30 minutes away, beyond the scheduler's arming
    // window (10 minutes). Run in the last 10 minutes of a real hour, the plan was armed for the real hour at
    // once, and a refresh after the clock moved found it armed and kept it: nothing fired within the wait.
    setNow(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 30 * 60_000);
    const { user, account } = await newUser('kit_rotation', 'Cleo', 'hello there');
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    await h.services.library.addKit(user.id, 'pumpkin', { banner: await banner('concert.jpg'), nameTemplate: '🎃 {name}' });
    await h.services.library.addKit(user.id, 'nova', { bioTemplate: 'Team Nova · {bio}' });
    expect(await schedule(user, 'rotate', { images: 'pumpkin, nova', every: 'hourly' })).toMatch(/^Added: rotation hourly, sequence: pumpkin, nova/);
    const pumpkin = { name: '🎃 Cleo', description: 'hello there', banner: true };
    const nova = { name: 'Cleo', description: 'Team Nova · hello there', banner: false };
    const shows = (expected: typeof pumpkin) =>
      eventually(
        async () => {
          expect(h.x.profile(account.id)).toMatchObject({ name: expected.name, description: expected.description });
          expect(h.x.profileBannerUrl(account.id) !== undefined).toBe(expected.banner);
          expect((await h.services.schedules.get(user.id)).changing).toBeUndefined();
        },
        15_000,
        50,
      );
    const first = (await h.services.schedules.get(user.id)).applied?.image;
    await eventually(async () => expect(['pumpkin', 'nova']).toContain((await h.services.schedules.get(user.id)).applied?.image), 15_000, 50);
    const order = (first ?? (await h.services.schedules.get(user.id)).applied?.image) === 'pumpkin' ? [pumpkin, nova, pumpkin, nova] : [nova, pumpkin, nova, pumpkin];
    await shows(order[0]!);
    let hour = Math.ceil(clock.now() / 3_600_000) * 3_600_000;
    for (const expected of order.slice(1)) {
      setNow(hour, 1500);
      await h.services.scheduler.refresh(user.id);
      await shows(expected);
      hour += 3_600_000;
    }
    expect(uploadsOf(account)).toEqual([]); // neither kit has an avatar: it was never touched
    const id = (await h.services.schedules.get(user.id)).schedules[0]!.id;
    await schedule(user, 'remove', { schedule: id });
    clock.offset = 0;
  });
});

describe('a restart in the middle of a kit', () => {
  it('finishes the kit after the restart and sends each part once, telling the user once', async () => {
    clock.offset = 0;
    const { user, account } = await newUser('kit_restart', 'Dana');
    await h.services.library.add(user.id, 'usual', await colour('#555555'));
    await h.services.library.addKit(user.id, 'winter', { avatar: await avatarOf('flowers.jpeg'), banner: await banner('concert.jpg'), nameTemplate: '❄️ {name}' });
    await schedule(user, 'default', { image: 'usual' });
    await applied(user, 'usual');
    const start = midnightIn(5);
    await schedule(user, 'season', { image: 'winter', from: monthDay(start), to: monthDay(start) });

    // The bot stops while X holds the banner upload: the avatar is accepted, the banner applied, the name not sent.
    let restarted: Promise<void> | undefined;
    h.x.setRequestHook((request) => {
      if (request.path !== X_PATHS.updateProfileBanner || request.userId !== account.id || request.stage !== 'applied') return;
      h.x.setRequestHook(undefined);
      restarted = h.restart();
    });
    setNow(start, 1500);
    await h.services.scheduler.refresh(user.id);
    await h.discord.waitFor(() => restarted !== undefined, 10_000, 'the banner upload');
    await restarted;
    await applied(user, 'winter');
    // The new process took over what the stopped one had sent (the journal), and did the rest.
    expect(h.logs.some((line) => line.includes('finishing a profile change from before a restart') && line.includes('"part":"banner"'))).toBe(true);
    expect(h.x.profile(account.id).name).toBe('❄️ Dana');
    await new Promise((done) => setTimeout(done, 1500));
    expect(uploadsOf(account)).toHaveLength(2); // the default image, and the kit's avatar once
    expect(bannersOf(account)).toHaveLength(1);
    expect(profileWrites(account)).toHaveLength(1);
    expect(h.discord.messages.filter((posted) => posted.recipientId === user.id && posted.message.embeds[0]?.title === 'Scheduled kit: winter')).toHaveLength(1);
    const record = await h.services.schedules.get(user.id);
    expect(Object.keys(record.applied?.parts ?? {}).sort()).toEqual(['avatar', 'banner', 'name']);
    clock.offset = 0;
  }, 60_000);
});
