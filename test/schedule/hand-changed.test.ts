/**
 * Issue 12 item 4: an avatar changed by hand on X is not overwritten by a scheduled change. The real bot,
 * discord.js client, node-cron and the local Discord and X servers (every X request signature-checked); the
 * user changes their avatar "on X's site" with the X server's setProfileImage, which sends no API request.
 * The scheduler's clock is moved forward so an event's time is reached in seconds.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/bot-harness.js';
import type { Message, OptionValue, TestUser } from '../support/discord-server.js';
import { X_PATHS, type FakeXUser } from '../support/x-server.js';
import { eventually } from '../support/eventually.js';
import { buttonsOf, fixture } from '../bot/helpers.js';
import { normalizeBanner } from '../../src/avatar/normalize.js';

const clock = { offset: 0, now: () => Date.now() + clock.offset };
/** Move the scheduler's clock so that `at` is `leadMs` away. */
const setNow = (at: Date | number, leadMs = 0) => {
  clock.offset = new Date(at).getTime() - leadMs - Date.now();
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ clock, env: { SCHEDULE_MIN_INTERVAL_MS: '1500' } });
});
afterAll(async () => {
  expect(h.discord.unexpectedCalls).toEqual([]);
  await h?.close();
});

const colour = (background: string) => sharp({ create: { width: 400, height: 400, channels: 3, background } }).jpeg().toBuffer();

async function addImage(user: TestUser, name: string, background: string): Promise<Buffer> {
  const data = await colour(background);
  await h.services.library.add(user.id, name, { data, format: 'jpeg' });
  return data;
}

async function schedule(user: TestUser, subcommand: string, options: Record<string, OptionValue> = {}) {
  const interaction = await h.discord.slash(user, { name: 'schedule', subcommand, options });
  return (await interaction.waitForReply(undefined, 15_000)).content;
}

const uploadsOf = (account: FakeXUser) => h.x.uploads.filter((upload) => upload.userId === account.id);
/** verify_credentials of this account (its access tokens start with its id), answered, since `from`. */
const readsOf = (account: FakeXUser, from = 0, to = Infinity) =>
  h.x.requests.filter((request) => request.path === X_PATHS.verifyCredentials && request.oauthParams?.oauth_token?.startsWith(`${account.id}-`) && request.at >= from && request.at <= to);
const dmsTo = (user: TestUser, includes: string): Message[] => h.discord.messages.filter((posted) => posted.recipientId === user.id && posted.message.content?.includes(includes)).map((posted) => posted.message);
const local = (date: Date) => date.toISOString().slice(0, 16).replace('T', ' ');

const HAND_NOTICE = 'Your avatar on X was changed outside the bot';

/** A linked user whose default image "usual" the bot applied (their first change), and an event "party" an hour ahead. */
async function userWithEvent(name: string): Promise<{ user: TestUser; account: FakeXUser; party: Buffer; at: Date; eventId: string }> {
  clock.offset = 0;
  const user = h.discord.addMember({ username: name });
  const account = await h.linkUser(user, `${name}_x`);
  const usual = await addImage(user, 'usual', '#777777');
  const party = await addImage(user, 'party', '#ff00ff');
  const readsBefore = readsOf(account).length;
  await schedule(user, 'default', { image: 'usual' });
  // The first change has nothing the bot applied to compare with: it is made, with the one read the change
  // makes anyway (the avatar from before, saved as the original) before its upload.
  await h.discord.waitFor(() => uploadsOf(account).length === 1, 10_000, 'the default image');
  expect(uploadsOf(account)[0]!.bytes.equals(usual)).toBe(true);
  expect(readsOf(account, 0, uploadsOf(account)[0]!.at)).toHaveLength(readsBefore + 1);
  await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('usual'));
  await eventually(async () => expect((await h.services.avatars.history(user.id)).entries).toHaveLength(1));

  const at = new Date(Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000); // an hour from now, whole minute, UTC
  expect(await schedule(user, 'event', { image: 'party', at: local(at) })).toMatch(/Next change: .* → party\.$/);
  const eventId = (await h.services.schedules.get(user.id)).schedules[0]!.id;
  return { user, account, party, at, eventId };
}

/** The user changes their avatar on X's own site. */
async function changeByHand(account: FakeXUser): Promise<string> {
  h.x.setProfileImage(account.id, { bytes: await colour('#00aa00'), format: 'jpeg' });
  return h.x.profileImageUrl(account.id);
}

describe('an avatar changed by hand on X', () => {
  it('is not overwritten: the schedule is paused, one notice with a Resume button; Resume lets the change apply', async () => {
    const { user, account, party, at, eventId } = await userWithEvent('handy');
    const handUrl = await changeByHand(account);

    setNow(at, 1500);
    await h.services.scheduler.refresh(user.id);
    const notice = (await h.discord.waitForDm(user.id, (message) => message.content.includes(HAND_NOTICE), 10_000)).message;
    expect(notice.content).toBe(
      'Your avatar on X was changed outside the bot, so the event at ' +
        local(at) +
        ' did not replace it with "party" and that schedule is paused. Press Resume (or use /schedule resume) to let it change your avatar again, or use /schedule overwrite to always replace hand changes.',
    );
    expect(buttonsOf(notice).map((button) => [button.label, button.custom_id])).toEqual([['Resume', `schedule:resume:${eventId}`]]);
    // Nothing was uploaded: X still shows what the user set by hand.
    expect(uploadsOf(account)).toHaveLength(1);
    expect(h.x.profileImageUrl(account.id)).toBe(handUrl);
    const record = await h.services.schedules.get(user.id);
    expect(record.schedules[0]!.paused).toMatchObject({ reason: 'hand-changed' });
    expect(record.applied?.image).toBe('usual');

    // While paused the event fires nothing: another re-plan (any process, an edit) neither uploads nor tells again.
    await h.services.scheduler.refresh(user.id);
    const list = await schedule(user, 'list');
    expect(list).toContain(`\`${eventId}\` event ${local(at)} → party (paused: your avatar was changed by hand on X)`);
    expect(list).toMatch(/Last run: failed Your avatar on X was changed outside the bot/);
    expect(uploadsOf(account)).toHaveLength(1);
    expect(dmsTo(user, HAND_NOTICE)).toHaveLength(1);

    // Resume: the event is due, so it applies at once, over the avatar the user set by hand (they said so).
    const clicked = await h.discord.click(notice, `schedule:resume:${eventId}`, { user });
    const updated = await clicked.waitForReply((message) => message.content.includes(`Resumed \`${eventId}\`.`), 15_000);
    expect(buttonsOf(updated)).toEqual([]);
    await h.discord.waitFor(() => uploadsOf(account).length === 2, 10_000, 'the change after Resume');
    expect(uploadsOf(account)[1]!.bytes.equals(party)).toBe(true);
    await h.discord.waitForDm(user.id, (message) => message.embeds[0]?.title === 'Scheduled avatar: party', 10_000);
    const resumed = await h.services.schedules.get(user.id);
    expect(resumed.schedules[0]!.paused).toBeUndefined();
    expect(resumed.applied?.image).toBe('party');
    expect(resumed.acceptedAvatar).toBeUndefined(); // the bot's own avatar is the one compared next
    expect(dmsTo(user, HAND_NOTICE)).toHaveLength(1);
    clock.offset = 0;
  });

  it('with /schedule overwrite on, the scheduled change replaces it (and nothing is read for a check)', async () => {
    const { user, account, party, at } = await userWithEvent('overwriter');
    expect(await schedule(user, 'overwrite', { mode: 'on' })).toMatch(/^Scheduled changes will replace an avatar you changed by hand on X\.\nNext change: /);
    expect(await schedule(user, 'list')).toContain('Scheduled changes replace an avatar you change by hand on X (/schedule overwrite to be asked instead).');
    await changeByHand(account);
    const readsBefore = readsOf(account).length;

    setNow(at, 1500);
    await h.services.scheduler.refresh(user.id);
    await h.discord.waitFor(() => uploadsOf(account).length === 2, 10_000, 'the event upload');
    expect(uploadsOf(account)[1]!.bytes.equals(party)).toBe(true);
    expect(readsOf(account, 0, uploadsOf(account)[1]!.at)).toHaveLength(readsBefore); // no read before the upload
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('party'));
    expect((await h.services.schedules.get(user.id)).schedules[0]!.paused).toBeUndefined();
    expect(dmsTo(user, HAND_NOTICE)).toHaveLength(0);

    // Off again: the check is back.
    expect(await schedule(user, 'overwrite', { mode: 'off' })).toMatch(/^When you change your avatar by hand on X, the next scheduled change pauses its schedule and asks you first\./);
    expect((await h.services.schedules.get(user.id)).overwriteHandChanges).toBeUndefined();
    clock.offset = 0;
  });

  it('a user who did not change it by hand is changed as scheduled, with one profile read before the upload', async () => {
    const { user, account, party, at } = await userWithEvent('steady');
    const fireFrom = Date.now();

    setNow(at, 1500);
    await h.services.scheduler.refresh(user.id);
    await h.discord.waitFor(() => uploadsOf(account).length === 2, 10_000, 'the event upload');
    expect(uploadsOf(account)[1]!.bytes.equals(party)).toBe(true);
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('party'));
    // One verify_credentials compared the avatar before the upload; the read after it is the final URL's.
    expect(readsOf(account, fireFrom, uploadsOf(account)[1]!.at)).toHaveLength(1);
    expect((await h.services.schedules.get(user.id)).schedules[0]!.paused).toBeUndefined();
    expect(dmsTo(user, HAND_NOTICE)).toHaveLength(0);
    clock.offset = 0;
  });
});

describe('not a hand change', () => {
  it('a command change X shows but the bot has not recorded yet is waited for, not taken for a hand change', async () => {
    const { user, account, eventId } = await userWithEvent('busy');
    await schedule(user, 'remove', { schedule: eventId });
    const mine = await colour('#0000ee');
    // From the command's upload on, X holds this account's profile reads until released: the command's change
    // is accepted and shown by X, but not recorded in the history while the scheduled change comes due.
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    h.x.setRequestHook(async ({ path, userId, stage }) => {
      if (userId !== account.id) return;
      if (path === X_PATHS.updateProfileImage && stage === 'applied') holding = true;
      else if (holding && path === X_PATHS.verifyCredentials) await released;
    });
    try {
      const command = await h.discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: { attachment: { filename: 'mine.jpg', bytes: mine } } } });
      await h.discord.waitFor(() => uploadsOf(account).length === 2, 10_000, 'the command upload');
      // An event that started a minute ago is due now (after the minimum interval since "usual").
      await schedule(user, 'event', { image: 'party', at: local(new Date(Date.now() - 60_000)) });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      release();
      await command.waitForReply(undefined, 15_000);
      await h.discord.waitFor(() => uploadsOf(account).length === 3, 10_000, 'the event upload');
    } finally {
      release();
      h.x.setRequestHook(undefined);
    }
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('party'));
    expect(dmsTo(user, HAND_NOTICE)).toHaveLength(0);
    expect((await h.services.schedules.get(user.id)).schedules[0]!.paused).toBeUndefined();
  });
});

describe('an avatar changed by hand on X, other targets', () => {
  it('the default image coming back pauses the default image; /schedule resume default lets it apply', async () => {
    const { user, account, eventId } = await userWithEvent('defaulted');
    // The event is replaced by one that started a minute ago: it applies now (after the minimum interval).
    await schedule(user, 'remove', { schedule: eventId });
    await schedule(user, 'event', { image: 'party', at: local(new Date(Date.now() - 60_000)) });
    await h.discord.waitFor(() => uploadsOf(account).length === 2, 10_000, 'the event upload');
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('party'));
    const handUrl = await changeByHand(account);

    // Removing the event brings the default image back: the hand change pauses it instead.
    const partyId = (await h.services.schedules.get(user.id)).schedules[0]!.id;
    await schedule(user, 'remove', { schedule: partyId });
    const notice = (await h.discord.waitForDm(user.id, (message) => message.content.includes(HAND_NOTICE), 10_000)).message;
    expect(notice.content).toContain('so your default image did not replace it with "usual"');
    expect(buttonsOf(notice).map((button) => button.custom_id)).toEqual(['schedule:resume:default']);
    expect(uploadsOf(account)).toHaveLength(2);
    expect(h.x.profileImageUrl(account.id)).toBe(handUrl);
    expect(await schedule(user, 'list')).toContain('Default image: usual (paused: your avatar was changed by hand on X)');

    expect(await schedule(user, 'resume', { schedule: 'default' })).toMatch(/^Resumed `default`\./);
    await h.discord.waitFor(() => uploadsOf(account).length === 3, 10_000, 'the default image after /schedule resume');
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('usual'));
    expect((await h.services.schedules.get(user.id)).defaultPaused).toBeUndefined();
    expect(dmsTo(user, HAND_NOTICE)).toHaveLength(1);
  });

  it('while one schedule is paused the others go on: a kit without an avatar is applied (only the avatar is compared)', async () => {
    const { user, account, at, eventId } = await userWithEvent('others');
    const { data, format } = await normalizeBanner(fixture('flowers.jpeg'));
    await h.services.library.addKit(user.id, 'flag', { banner: { data, format } });
    await changeByHand(account);
    setNow(at, 1500);
    await h.services.scheduler.refresh(user.id);
    await h.discord.waitForDm(user.id, (message) => message.content.includes(HAND_NOTICE), 10_000);

    // The clock is moved first: the event's timer is armed on it when the event is added.
    const later = new Date(at.getTime() + 60_000);
    setNow(later, 3000);
    await schedule(user, 'event', { image: 'flag', at: local(later) });
    await h.discord.waitForDm(user.id, (message) => message.embeds[0]?.title === 'Scheduled kit: flag', 10_000);
    expect(h.x.banners.filter((banner) => banner.userId === account.id)).toHaveLength(1);
    expect(uploadsOf(account)).toHaveLength(1); // the avatar set by hand stays
    const record = await h.services.schedules.get(user.id);
    expect(record.applied?.image).toBe('flag');
    expect(record.schedules.find((candidate) => candidate.id === eventId)!.paused).toMatchObject({ reason: 'hand-changed' });
    expect(dmsTo(user, HAND_NOTICE)).toHaveLength(1);
    clock.offset = 0;
  });

  it('a kit that sets the avatar: paused after a hand change (no part sent); otherwise its name comes from the same one read', async () => {
    const kitUser = async (name: string) => {
      const made = await userWithEvent(name);
      h.x.setProfile(made.account.id, { name: 'Nia' });
      await h.services.library.addKit(made.user.id, 'nova', { avatar: { data: await colour('#123456'), format: 'jpeg' }, nameTemplate: '{name} | Nova' });
      await schedule(made.user, 'remove', { schedule: made.eventId });
      await schedule(made.user, 'event', { image: 'nova', at: local(made.at) });
      return made;
    };
    const handy = await kitUser('kithand');
    const steady = await kitUser('kitsteady');
    await changeByHand(handy.account);
    const writes = (account: FakeXUser) => h.x.requests.filter((request) => request.path === X_PATHS.updateProfile && request.oauthParams?.oauth_token?.startsWith(`${account.id}-`));
    const fireFrom = Date.now();

    setNow(handy.at, 1500);
    await h.services.scheduler.refresh(handy.user.id);
    await h.services.scheduler.refresh(steady.user.id);
    await h.discord.waitForDm(handy.user.id, (message) => message.content.includes(HAND_NOTICE), 10_000);
    await h.discord.waitFor(() => uploadsOf(steady.account).length === 2, 10_000, 'the kit avatar');
    await eventually(async () => expect(h.x.profile(steady.account.id).name).toBe('Nia | Nova'));
    await eventually(async () => expect((await h.services.schedules.get(steady.user.id)).applied?.image).toBe('nova'));
    // One verify_credentials before the kit's first write: the hand-change check and the name from before are one read.
    const firstWrite = Math.min(uploadsOf(steady.account)[1]!.at, ...writes(steady.account).map((request) => request.at));
    expect(readsOf(steady.account, fireFrom, firstWrite)).toHaveLength(1);

    // The hand-changed one: nothing of the kit was sent, its schedule is paused.
    expect(uploadsOf(handy.account)).toHaveLength(1);
    expect(writes(handy.account)).toHaveLength(0);
    expect(h.x.profile(handy.account.id).name).toBe('Nia');
    expect((await h.services.schedules.get(handy.user.id)).schedules[0]!.paused).toMatchObject({ reason: 'hand-changed' });
    clock.offset = 0;
  });
});

describe('an avatar changed by hand on X, replaced after Resume while X is slow to process', () => {
  let slow: Harness;
  beforeAll(async () => {
    // X shows a new image 150 ms after the upload; the bot looks 100 ms after it (and again each 100 ms).
    slow = await startHarness({ env: { TWITTER_PROCESSING_DELAY_MS: '100', SCHEDULE_MIN_INTERVAL_MS: '1500' }, x: { processingDelayMs: 150 } });
  });
  afterAll(async () => {
    await slow?.close();
  });

  it('records the URL of the new image, not the hand-made one X still shows at the first look', async () => {
    const user = slow.discord.addMember({ username: 'slowhand' });
    const account = await slow.linkUser(user, 'slowhand_x');
    for (const [name, background] of [['usual', '#777777'], ['party', '#ff00ff']] as const) await slow.services.library.add(user.id, name, { data: await colour(background), format: 'jpeg' });
    const run = async (subcommand: string, options: Record<string, OptionValue>) => (await (await slow.discord.slash(user, { name: 'schedule', subcommand, options })).waitForReply(undefined, 15_000)).content;
    await run('default', { image: 'usual' });
    await eventually(async () => expect((await slow.services.avatars.history(user.id)).entries).toHaveLength(1), 10_000);
    slow.x.setProfileImage(account.id, { bytes: await colour('#00aa00'), format: 'jpeg' });
    const handStem = slow.x.profileImageUrl(account.id).replace(/_normal\.jpg$/, '');

    // The event starts now: the hand change pauses it; Resume lets it replace the hand-made avatar.
    await run('event', { image: 'party', at: local(new Date(Date.now() - 60_000)) });
    const notice = (await slow.discord.waitForDm(user.id, (message) => message.content.includes(HAND_NOTICE), 10_000)).message;
    const eventId = (await slow.services.schedules.get(user.id)).schedules[0]!.id;
    await (await slow.discord.click(notice, `schedule:resume:${eventId}`, { user })).waitForReply((message) => message.content.includes('Resumed'), 15_000);
    await eventually(async () => expect((await slow.services.schedules.get(user.id)).applied?.image).toBe('party'), 10_000);

    const top = (await slow.services.avatars.history(user.id)).entries.at(-1)!;
    expect(top.url400.startsWith(handStem)).toBe(false);
    expect(top.url400).toBe(slow.x.profileImageUrl(account.id).replace('_normal', '_400x400'));
  });
});
