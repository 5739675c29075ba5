/**
 * Scheduled avatars end to end: the real bot, discord.js client, node-cron, the local Discord and X
 * servers. The scheduler's clock is moved forward (node-cron fires on the real clock, shifted by the
 * same amount), so a season boundary or an event can be reached in seconds.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/bot-harness.js';
import type { OptionValue, TestUser } from '../support/discord-server.js';
import type { FakeXUser } from '../support/x-server.js';
import { X_PATHS, xFaults } from '../support/x-server.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { formatInZone, latestAccepted, zonedTimeToInstant } from '../../src/schedule/engine.js';
import { linkWithPin } from '../bot/helpers.js';
import { eventually } from '../support/eventually.js';
import { openStore } from '../../src/store/backend.js';
import { failureWords } from '../../src/i18n/schedule-words.js';

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

/** A plain colour image, different per name, stored in the user's library. */
async function addImage(user: TestUser, name: string, colour: string): Promise<Buffer> {
  const data = await sharp({ create: { width: 400, height: 400, channels: 3, background: colour } }).jpeg().toBuffer();
  await h.services.library.add(user.id, name, { data, format: 'jpeg' });
  return data;
}

async function schedule(user: TestUser, subcommand: string, options: Record<string, OptionValue> = {}) {
  const interaction = await h.discord.slash(user, { name: 'schedule', subcommand, options });
  return (await interaction.waitForReply(undefined, 15_000)).content;
}

const uploadsOf = (account: FakeXUser) => h.x.uploads.filter((upload) => upload.userId === account.id);

async function newUser(name: string): Promise<{ user: TestUser; account: FakeXUser }> {
  const user = h.discord.addMember({ username: name });
  const account = await h.linkUser(user, `${name}_x`);
  return { user, account };
}

describe('library', () => {
  it('adds through Discord, lists with thumbnails, autocompletes and removes', async () => {
    const { user } = await newUser('lib');
    const photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#3366cc' } }).png().toBuffer();
    const add = await h.discord.slash(user, { name: 'library', subcommand: 'add', options: { name: 'winter', image: { attachment: { filename: 'w.png', bytes: photo } } } });
    expect((await add.waitForReply(undefined, 15_000)).content).toMatch(/^Saved "winter"/);
    expect(add.ephemeral).toBe(true);
    const stored = await h.services.library.get(user.id, 'winter');
    expect((await sharp(stored!.image.data).metadata()).width).toBe(400);

    const list = await h.discord.slash(user, { name: 'library', subcommand: 'list' });
    const listed = await list.waitForReply();
    expect(listed.content).toBe('1 image in your library.');
    expect(listed.embeds[0]?.title).toBe('winter');
    expect(list.files).toHaveLength(1);

    expect(await h.discord.autocomplete(user, { name: 'library', subcommand: 'remove', options: { name: 'wi' } }, 'name')).toEqual([{ name: 'winter', value: 'winter' }]);
    const remove = await h.discord.slash(user, { name: 'library', subcommand: 'remove', options: { name: 'winter' } });
    expect((await remove.waitForReply()).content).toBe('Removed "winter".');
    expect(await h.services.library.list(user.id)).toEqual([]);
  });

  it('names: decomposed accents are stored as NFC, any script is accepted, a look-alike of a name is that name', async () => {
    const { user } = await newUser('names');
    const photo = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#aa3366' } }).png().toBuffer();
    const add = async (name: string) => {
      const interaction = await h.discord.slash(user, { name: 'library', subcommand: 'add', options: { name, image: { attachment: { filename: 'n.png', bytes: photo } } } });
      return (await interaction.waitForReply(undefined, 15_000)).content;
    };
    expect(await add('cafe\u0301')).toMatch(/^Saved "café" in your library/);
    expect(await add('नमस्ते')).toMatch(/^Saved "नमस्ते" in your library/);
    expect(await add('cafe')).toMatch(/^Saved "cafe" in your library/); // an accent is not a look-alike
    // Cyrillic с (U+0441) looks like Latin c: the same name, refused as taken and found by lookups.
    expect(await add('\u0441afe')).toBe('You already have an image called "cafe" ("\u0441afe" looks the same). Remove it first or pick another name.');
    expect(await add('a\u200db')).toBe('Names are 1 to 32 letters (any alphabet), digits, spaces, dots, dashes or underscores, starting with a letter or digit.');
    expect((await h.services.library.list(user.id)).map((item) => item.name)).toEqual(['café', 'नमस्ते', 'cafe']);
    expect(await schedule(user, 'default', { image: '\u0441afe' })).toMatch(/^Your default image is "cafe"\./);
    expect(await schedule(user, 'default', { image: 'cafe\u0301' })).toMatch(/^Your default image is "café"\./);
    expect(await h.discord.autocomplete(user, { name: 'library', subcommand: 'remove', options: { name: 'नम' } }, 'name')).toEqual([{ name: 'नमस्ते', value: 'नमस्ते' }]);
  });
});

describe('seasons', () => {
  it('applies the season that covers today at once, then the next season at 00:00 local on its first day', async () => {
    clock.offset = 0;
    const { user, account } = await newUser('seasons');
    const autumn = await addImage(user, 'autumn', '#aa5500');
    const winter = await addImage(user, 'winter', '#0055aa');
    expect(await schedule(user, 'timezone', { zone: 'Asia/Tokyo' })).toMatch(/^Your time zone is Asia\/Tokyo/);

    // Today (in Tokyo) and tomorrow, as MM-DD.
    const tokyoDay = (offsetDays: number) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', month: '2-digit', day: '2-digit' }).format(new Date(Date.now() + offsetDays * 86_400_000));
    const today = tokyoDay(0);
    const tomorrow = tokyoDay(1);
    const reply = await schedule(user, 'season', { image: 'autumn', from: today, to: today });
    expect(reply).toMatch(new RegExp(`^Added: season ${today}\\.\\.${today} → autumn \\(times in Asia/Tokyo\\)\\.`));
    await h.discord.waitFor(() => uploadsOf(account).length === 1, 10_000, 'the catch-up upload');
    expect(uploadsOf(account)[0]!.bytes.equals(autumn)).toBe(true);
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('autumn'));

    const added = await schedule(user, 'season', { image: 'winter', from: tomorrow, to: tomorrow });
    expect(added).toMatch(new RegExp(`Next change: [A-Z][a-z]{2} \\d+ 00:00 → winter\\.$`));
    expect(uploadsOf(account)).toHaveLength(1); // nothing due yet

    // Jump to 2 s before midnight in Tokyo.
    const [month, day] = tomorrow.split('-').map(Number) as [number, number];
    const year = Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric' }).format(new Date(Date.now() + 86_400_000)));
    const midnight = zonedTimeToInstant('Asia/Tokyo', { year, month, day, hour: 0, minute: 0 });
    setNow(midnight, 2000);
    await h.services.scheduler.refresh(user.id);
    await h.discord.waitFor(() => uploadsOf(account).length === 2, 10_000, 'the season change at midnight');
    const change = uploadsOf(account)[1]!;
    expect(change.bytes.equals(winter)).toBe(true);
    expect(change.at).toBeGreaterThanOrEqual(midnight.getTime() - clock.offset - 50);

    // Told by DM, with the thumbnail and the final URL.
    const dm = await h.discord.waitForDm(user.id, (message) => message.embeds[0]?.title === 'Scheduled avatar: winter');
    expect(dm.message.embeds[0]?.description).toContain('_400x400');
    expect(dm.files).toHaveLength(1);

    const list = await schedule(user, 'list');
    expect(list).toContain(`season ${today}..${today} → autumn`);
    expect(list).toContain('Time zone: Asia/Tokyo · notifications by DM');
    expect(list).toMatch(/Last run: applied winter/);
    clock.offset = 0;
  });
});

describe('rotations', () => {
  it('refuses a rotation more frequent than the minimum interval, naming both', async () => {
    const { user } = await newUser('toofast');
    await addImage(user, 'a', '#ff0000');
    await addImage(user, 'b', '#00ff00');
    expect(await schedule(user, 'rotate', { images: 'a,b', every: '* * * * * *' })).toMatch(/^That schedule would change your avatar every 1 second; the minimum is 2 seconds\.$/);
    expect(await schedule(user, 'rotate', { images: 'a,b', every: '61 * * * *' })).toMatch(/minute field "61"/);
    expect(await schedule(user, 'rotate', { images: 'a,nope', every: 'daily' })).toMatch(/no image called "nope"/);
    expect((await h.services.schedules.get(user.id)).schedules).toEqual([]);
  });

  it('rotates in sequence on its cron, and pausing stops it at once', async () => {
    clock.offset = 0;
    const { user, account } = await newUser('rotator');
    const red = await addImage(user, 'red', '#ff0000');
    const green = await addImage(user, 'green', '#00ff00');
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    expect(await schedule(user, 'rotate', { images: 'red,green', every: '*/2 * * * * *' })).toMatch(/^Added: rotation \*\/2 \* \* \* \* \*, sequence: red, green/);
    await h.discord.waitFor(() => uploadsOf(account).length >= 3, 15_000, 'three rotation uploads');
    const bytes = uploadsOf(account).slice(0, 3).map((upload) => upload.bytes);
    // Consecutive uploads alternate: never the image that is already applied.
    expect(bytes[0]!.equals(bytes[1]!)).toBe(false);
    expect(bytes[1]!.equals(bytes[2]!)).toBe(false);
    expect([red, green].some((image) => image.equals(bytes[0]!))).toBe(true);

    const id = (await h.services.schedules.get(user.id)).schedules[0]!.id;
    expect(await schedule(user, 'pause', { schedule: id })).toMatch(new RegExp(`^Paused \`${id}\`\.`));
    const count = uploadsOf(account).length;
    await new Promise((done) => setTimeout(done, 4500));
    expect(uploadsOf(account).length).toBe(count);
    expect(h.services.scheduler.plannedAt(user.id)).toBeUndefined();
    expect(h.discord.messages.filter((posted) => posted.recipientId === user.id)).toEqual([]); // notify off
  });
});

describe('events', () => {
  it('applies an event at its time and brings the usual image back at until', async () => {
    const { user, account } = await newUser('eventful');
    const usual = await addImage(user, 'usual', '#777777');
    const party = await addImage(user, 'party', '#ff00ff');
    clock.offset = 0;
    await schedule(user, 'default', { image: 'usual' });
    await h.discord.waitFor(() => uploadsOf(account).length === 1, 10_000, 'the default image');
    expect(uploadsOf(account)[0]!.bytes.equals(usual)).toBe(true);
    // X has the image a moment before the bot records it as applied: wait for that before moving the clock.
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('usual'));

    const at = new Date(Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000); // an hour from now, whole minute, UTC
    const local = (date: Date) => date.toISOString().slice(0, 16).replace('T', ' ');
    const until = new Date(at.getTime() + 60_000);
    expect(await schedule(user, 'event', { image: 'party', at: local(at), until: local(until) })).toMatch(/Next change: .* → party\.$/);
    const channel = h.discord.addChannel({ name: 'avatars' });
    expect(await schedule(user, 'notify', { where: 'channel', channel: { channel: channel.id } })).toBe(`Scheduled changes will be announced in <#${channel.id}>.`);

    setNow(at, 1500);
    await h.services.scheduler.refresh(user.id);
    await h.discord.waitFor(() => uploadsOf(account).length === 2, 10_000, 'the event upload');
    expect(uploadsOf(account)[1]!.bytes.equals(party)).toBe(true);
    const posted = await h.discord.waitForMessage((message) => message.channelId === channel.id && message.message.embeds[0]?.title === 'Scheduled avatar: party');
    expect(posted.message.content).toBe(`<@${user.id}>`);

    setNow(until, 1500);
    await h.services.scheduler.refresh(user.id);
    await h.discord.waitFor(() => uploadsOf(account).length === 3, 10_000, 'the usual image back');
    expect(uploadsOf(account)[2]!.bytes.equals(usual)).toBe(true);
    clock.offset = 0;
  });

  it('refuses an event that is already over; one that started in the past starts now', async () => {
    clock.offset = 0;
    const { user, account } = await newUser('latecomer');
    const party = await addImage(user, 'party', '#ff00ff');
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    const local = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
    const hourAgo = local(Date.now() - 3_600_000);
    expect(await schedule(user, 'event', { image: 'party', at: local(Date.now() - 3 * 3_600_000), until: hourAgo })).toBe(
      `That event is already over: it ended at ${hourAgo} (UTC), before now. Pick an until in the future.`,
    );
    expect((await h.services.schedules.get(user.id)).schedules).toEqual([]);
    const reply = await schedule(user, 'event', { image: 'party', at: hourAgo });
    expect(reply).toMatch(new RegExp(`^Added: event \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} → party \\(times in UTC\\)\\. ${hourAgo} has passed, so it starts now\\.`));
    await h.discord.waitFor(() => uploadsOf(account).length === 1, 10_000, 'the event applied now');
    expect(uploadsOf(account)[0]!.bytes.equals(party)).toBe(true);
  });

  it('a zone change neither moves nor repeats an event already applied, events stored as wall clock included', async () => {
    clock.offset = 0;
    const { user, account } = await newUser('traveller');
    await addImage(user, 'usual', '#777777');
    const party = await addImage(user, 'party', '#ff00ff');
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    await schedule(user, 'default', { image: 'usual' });
    await h.discord.waitFor(() => uploadsOf(account).length === 1, 10_000, 'the default image');
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('usual'));

    const at = new Date(Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000);
    const wallClock = at.toISOString().slice(0, 16).replace('T', ' ');
    // Stored the way events were before they were pinned to an instant: wall clock in the user's zone (UTC).
    await h.records.schedules.update(user.id, (draft) => void draft.schedules.push({ id: 'old001', kind: 'event', image: 'party', at: wallClock, createdAt: new Date().toISOString() }));
    setNow(at, 1500);
    await h.services.scheduler.refresh(user.id);
    await h.discord.waitFor(() => uploadsOf(account).length === 2, 10_000, 'the event');
    expect(uploadsOf(account)[1]!.bytes.equals(party)).toBe(true);
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('party'));

    expect(await schedule(user, 'timezone', { zone: 'America/New_York' })).toMatch(/^Your time zone is America\/New_York/);
    const stored = (await h.services.schedules.get(user.id)).schedules[0];
    expect(stored).toMatchObject({ at: wallClock, atUtc: at.toISOString() });
    await new Promise((done) => setTimeout(done, 2000));
    expect(uploadsOf(account)).toHaveLength(2); // the usual image did not come back, as if the event were later
    // The same wall-clock time in New York passes: nothing is uploaded again.
    const [day, time] = wallClock.split(' ') as [string, string];
    const [year, month, dayOfMonth] = day.split('-').map(Number) as [number, number, number];
    const [hour, minute] = time.split(':').map(Number) as [number, number];
    setNow(zonedTimeToInstant('America/New_York', { year, month, day: dayOfMonth, hour, minute }), 1500);
    await h.services.scheduler.refresh(user.id);
    await new Promise((done) => setTimeout(done, 3000));
    expect(uploadsOf(account)).toHaveLength(2);
    expect(await schedule(user, 'list')).toContain(`\`old001\` event ${new Intl.DateTimeFormat('sv-SE', { timeZone: 'America/New_York', dateStyle: 'short', timeStyle: 'short' }).format(at)} → party`);
    clock.offset = 0;
  });

  it('previews a date', async () => {
    const { user } = await newUser('previewer');
    await addImage(user, 'xmas', '#008800');
    await schedule(user, 'season', { image: 'xmas', from: '12-20', to: '12-26' });
    expect(await schedule(user, 'preview', { date: '2027-12-24' })).toBe('On 2027-12-24 (12:00) your avatar would be "xmas", from the season 12-20 to 12-26.');
    expect(await schedule(user, 'preview', { date: '2027-07-01' })).toMatch(/^On that day nothing would change your avatar/);
  });
});

describe('failures', () => {
  it('a revoked link pauses every schedule and says so once; relinking resumes them', async () => {
    clock.offset = 0;
    const { user, account } = await newUser('revoked');
    await addImage(user, 'one', '#101010');
    await addImage(user, 'two', '#202020');
    h.x.revoke(account.id);
    await schedule(user, 'default', { image: 'one' });
    const dm = await h.discord.waitForDm(user.id, (message) => message.content.includes('paused because your X link'));
    expect(dm.message.content).toBe('Your scheduled avatars are paused because your X link was revoked or removed. Link again with /twitter link and they resume.');
    const record = await h.services.schedules.get(user.id);
    expect(record.suspended?.reason).toBe('link');
    expect(uploadsOf(account)).toEqual([]);
    expect(await schedule(user, 'list')).toContain('Next change: paused until you link your X account again');

    // Relink through /twitter link (PIN flow): the schedules resume and the default applies.
    await linkWithPin(h, user, account);
    await h.discord.waitFor(() => uploadsOf(account).length === 1, 10_000, 'the upload after relinking');
    expect((await h.services.schedules.get(user.id)).suspended).toBeUndefined();
    expect(h.discord.messages.filter((posted) => posted.recipientId === user.id && posted.message.content.includes('paused'))).toHaveLength(1); // told once
  });

  it('a missing library image pauses that schedule and tells the user', async () => {
    clock.offset = 0;
    const { user, account } = await newUser('missing');
    await addImage(user, 'gone', '#123456');
    await h.records.schedules.update(user.id, (draft) => {
      draft.schedules.push({ id: 'evt001', kind: 'event', image: 'gone', at: '2020-01-01 00:00', until: '2099-01-01 00:00', createdAt: new Date().toISOString() });
    });
    await h.services.library.remove(user.id, 'gone');
    await h.services.scheduler.refresh(user.id);
    const dm = await h.discord.waitForDm(user.id, (message) => message.content.includes('no longer in your library'));
    expect(dm.message.content).toMatch(/wants the image "gone", which is no longer in your library, so that schedule is paused/);
    expect((await h.services.schedules.get(user.id)).schedules[0]!.paused).toBe(true);
    expect(uploadsOf(account)).toEqual([]);
  });

  it('rate-limited with a reset already past: retried no sooner than a minute later, backing off, and an edit does not bring it forward', async () => {
    clock.offset = 0;
    const { user, account } = await newUser('limited');
    await addImage(user, 'img', '#654321');
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    const attempts = () => h.x.requests.filter((request) => request.path === X_PATHS.updateProfileImage && request.oauthParams?.oauth_token === account.accessToken.token);
    // X says the window reset 30 s ago: "retry after the reset" used to mean at once, 12 times in 12 s.
    h.x.fail(xFaults.rateLimited(X_PATHS.updateProfileImage, Math.floor(Date.now() / 1000) - 30, { times: 3 }));
    await schedule(user, 'default', { image: 'img' });
    for (const streak of [1, 2, 3]) {
      await h.discord.waitFor(() => attempts().length === streak, 10_000, `rate-limited attempt ${streak}`);
      await eventually(async () => expect((await h.services.schedules.get(user.id)).retry?.rateLimits).toBe(streak));
      const record = await h.services.schedules.get(user.id);
      const retryAt = Date.parse(record.retry!.at);
      expect(retryAt - Date.parse(record.lastRun!.at)).toBeGreaterThanOrEqual(60_000 * 2 ** (streak - 1)); // 1, 2, 4 minutes
      // The scheduler plans the retry just after it writes the record.
      await eventually(async () => expect(h.services.scheduler.plannedAt(user.id)?.getTime()).toBe(retryAt));
      // An edit re-plans but does not retry early; the list says when the retry really is.
      expect(await schedule(user, 'default', { image: 'img' })).toContain(`Next change: ${formatInZone(new Date(retryAt), 'UTC')} → img (a retry: the last attempt failed).`);
      await new Promise((done) => setTimeout(done, 2000));
      expect(attempts()).toHaveLength(streak);
      setNow(retryAt, 1500);
      await h.services.scheduler.refresh(user.id);
    }
    await h.discord.waitFor(() => uploadsOf(account).length === 1, 10_000, 'the upload after backing off');
    expect(attempts()).toHaveLength(4);
    await eventually(async () => expect((await h.services.schedules.get(user.id)).retry).toBeUndefined());
    clock.offset = 0;
  });
});

describe('a record locked by a process that died', () => {
  // A process killed while it held the user's history lock leaves a lease that lives 15 s: the scheduled
  // change meets "still being saved" and must be retried, not recorded as failed for good.
  it('retries the change once the lock is gone, and uploads once', async () => {
    clock.offset = 0;
    const { user, account } = await newUser('lockedout');
    await addImage(user, 'img', '#123456');
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    // Another "process": its own store on the same file, holding the lock until released.
    const other = await openStore(h.config.storeUrl);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let taken: () => void = () => {};
    const isTaken = new Promise<void>((resolve) => (taken = resolve));
    const holding = other.locked(`history:${user.id}`, async () => {
      taken();
      await held;
    });
    try {
      await isTaken;
      await schedule(user, 'default', { image: 'img' });
      await eventually(async () => expect((await h.services.schedules.get(user.id)).lastRun?.outcome).toBe('failed'), 15_000, 100);
      const record = await h.services.schedules.get(user.id);
      expect(record.lastRun?.detail).toMatchObject({ kind: 'change-failed', error: { kind: 'busy' } });
      expect(failureWords('en-US', record.lastRun!.detail)).toContain('still being saved');
      expect(record.retry).toBeDefined();
      expect(uploadsOf(account)).toHaveLength(0);
      release();
      await holding;
      setNow(Date.parse(record.retry!.at), 1500);
      await h.services.scheduler.refresh(user.id);
      await h.discord.waitFor(() => uploadsOf(account).length === 1, 15_000, 'the retried upload');
      await eventually(async () => expect((await h.services.schedules.get(user.id)).lastRun?.outcome).toBe('applied'), 15_000, 100);
      expect(uploadsOf(account)).toHaveLength(1);
    } finally {
      release();
      await holding.catch(() => undefined);
      await other.close();
      clock.offset = 0;
    }
  }, 60_000);
});

describe('bounds', () => {
  it('refuses a preview too far ahead at once, with a clear sentence, while another user is answered', async () => {
    clock.offset = 0;
    const { user } = await newUser('farsighted');
    const bystander = await newUser('bystander');
    await addImage(user, 'a', '#aa0000');
    await addImage(user, 'b', '#00aa00');
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    // A sequence rotation: previewing a day counts its fires since it was made (once a day-by-day walk).
    expect(await schedule(user, 'rotate', { images: 'a,b', every: 'daily' })).toMatch(/^Added: rotation daily/);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const preview = await h.discord.slash(user, { name: 'schedule', subcommand: 'preview', options: { date: '9999-12-31' } });
    const status = await h.discord.slash(bystander.user, { name: 'twitter', subcommand: 'status' });
    expect((await preview.waitForReply()).content).toBe('date "9999-12-31" is out of range: dates from 2020-01-01 to 2099-12-31 are supported.');
    expect((await status.waitForReply(undefined, 15_000)).embeds[0]?.title).toBe('@bystander_x');
    const latest = latestAccepted(new Date()).toISOString().slice(0, 10);
    expect(await schedule(user, 'preview', { date: '2099-12-31' })).toBe(`date is too far ahead: schedules reach at most 10 years ahead (until ${latest}).`);
    expect(await schedule(user, 'preview', { date: latest })).toMatch(/^On \d{4}-\d{2}-\d{2} \(12:00\) your avatar would be "[ab]", from the sequence rotation/);
    delay.disable();
    // Generous: the refusal and the ten-year preview take milliseconds; the day-by-day walk held the loop for a minute.
    expect(delay.max / 1e6).toBeLessThan(250);
  });
});

describe('restart', () => {
  it('after downtime across a season boundary, applies the current season exactly once', async () => {
    clock.offset = 0;
    const { user, account } = await newUser('sleeper');
    await addImage(user, 'before', '#111111');
    const after = await addImage(user, 'after', '#eeeeee');
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(5, 10);
    await schedule(user, 'default', { image: 'before' });
    await schedule(user, 'season', { image: 'after', from: tomorrow, to: tomorrow });
    await h.discord.waitFor(() => uploadsOf(account).length === 1, 10_000, 'the default image');
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('before'));

    await h.restart(() => {
      // While the bot is down, the boundary passes: it is now 10:00 UTC tomorrow.
      setNow(new Date(`${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}T10:00:00Z`));
    });
    await h.discord.waitFor(() => uploadsOf(account).length === 2, 10_000, 'the catch-up upload');
    expect(uploadsOf(account)[1]!.bytes.equals(after)).toBe(true);
    await new Promise((done) => setTimeout(done, 1500));
    expect(uploadsOf(account)).toHaveLength(2); // once, not replayed

    await h.restart();
    await new Promise((done) => setTimeout(done, 1500));
    expect(uploadsOf(account)).toHaveLength(2); // already applied: never uploaded again
    clock.offset = 0;
  });
});
