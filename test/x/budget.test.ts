/**
 * The write budget (issue 12, item 3) through the real bot, discord.js client and the X test server, which
 * sends per-user, per-endpoint x-rate-limit-* headers and answers 429 at 0: a user whose endpoint shows
 * `remaining: 0` is held until X's reset (no request reaches X before it, exactly one after) for a command,
 * a scheduled change and a push member; X_DAILY_WRITE_BUDGET serves commands first, then schedules, then
 * pushes; a push shows when it finishes under the budget; two processes on one Redis share one budget.
 * Time moves through the injected clock (the bot's and the X server's), never by sleeping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avatarCommand, expectPlainEphemeral, expectValidSignatures, fixture, image } from '../bot/helpers.js';
import { localServicesEnv, startHarness, type Harness } from '../support/bot-harness.js';
import { DEFAULT_RATE_LIMIT, startXServer, X_PATHS, type FakeXUser, type XServer } from '../support/x-server.js';
import type { TestUser } from '../support/discord-server.js';
import { eventually } from '../support/eventually.js';
import { openRecords, type Records } from '../support/records.js';
import { createPushRunner, describeProgress, type PushProgress } from '../../src/branding/push.js';
import { localCoordination } from '../../src/coordination/runs.js';
import { ConfigError, parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices, type Services } from '../../src/services.js';
import { BUDGET_BUCKET_MS, BUDGET_WINDOW_MS, budgetShares } from '../../src/x/budget.js';
import { XApiError } from '../../src/x/errors.js';
import { createXClient, type XRequestObservation } from '../../src/x/client.js';
import { xUserKey } from '../../src/x/user-key.js';

const MINUTE = 60_000;
/** The bot's clock and the X server's: moved forward to pass a reset or a day. */
const clock = { offset: 0, now: () => Date.now() + clock.offset };
/** The X server checks OAuth timestamps (signed on the real clock) against its moved clock: allow three days. */
const X_OPTIONS = { now: () => clock.now(), timestampWindowSec: 3 * 86_400 };
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

async function colour(background: string): Promise<{ data: Buffer; format: 'jpeg' }> {
  return { data: await sharp({ create: { width: 400, height: 400, channels: 3, background } }).jpeg().toBuffer(), format: 'jpeg' };
}

/** update_profile_image requests signed with the account's token, and their statuses. */
const uploadRequests = (h: Harness | { x: XServer }, account: FakeXUser) =>
  h.x.requests.filter((request) => request.path === X_PATHS.updateProfileImage && request.oauthParams?.oauth_token === account.accessToken.token).map((request) => request.status);

async function newUser(h: Harness, name: string): Promise<{ user: TestUser; account: FakeXUser }> {
  const user = h.discord.addMember({ username: name });
  return { user, account: await h.linkUser(user, `${name}_x`) };
}

/** One /avatar set that X accepts, and that leaves the user's update_profile_image at `remaining: 0` until `resetAt`. */
async function spendLastCall(h: Harness, user: TestUser, account: FakeXUser, resetAt: number): Promise<void> {
  h.x.setRateLimit(account.id, X_PATHS.updateProfileImage, { remaining: 1, resetAt });
  const { reply } = await avatarCommand(h, user, 'set', image('a.jpg', fixture('flowers.jpeg')));
  expect(reply.embeds[0]?.title).toBe('Avatar updated');
  expect(uploadRequests(h, account)).toEqual([200]);
}

describe('X_DAILY_WRITE_BUDGET in the configuration', () => {
  it('is optional, a positive whole number; anything else is named in one line', () => {
    expect(parseConfig({}).xDailyWriteBudget).toBeUndefined();
    expect(parseConfig({ X_DAILY_WRITE_BUDGET: ' ' }).xDailyWriteBudget).toBeUndefined();
    expect(parseConfig({ X_DAILY_WRITE_BUDGET: '2000' }).xDailyWriteBudget).toBe(2000);
    for (const value of ['0', '-5', '1.5', 'lots', '99999999999']) {
      const refused = (() => {
        try {
          parseConfig({ X_DAILY_WRITE_BUDGET: value });
        } catch (error) {
          return error as ConfigError;
        }
      })();
      expect(refused, value).toBeInstanceOf(ConfigError);
      expect(refused!.variable).toBe('X_DAILY_WRITE_BUDGET');
      expect(refused!.userMessage).toMatch(/^X_DAILY_WRITE_BUDGET .*whole number.*for no cap/);
      expect(refused!.userMessage).not.toContain('\n');
    }
  });
});

describe("what the X client tells of X's rate limits", () => {
  it('each answer: the user (a hash of the token), method, endpoint, limit, remaining and reset; none for the consumer-only calls', async () => {
    const server = await startXServer();
    const seen: XRequestObservation[] = [];
    const client = createXClient({ apiUrl: server.url, consumer: server.consumer, processingDelayMs: 0, observe: (request) => seen.push(request) });
    try {
      const account = server.addUser({ screenName: 'observed' });
      const user = { token: account.accessToken.token, secret: account.accessToken.secret };
      await client.verifyCredentials(user);
      const resetAt = Math.floor(Date.now() / 1000) * 1000 + 5 * MINUTE;
      server.setRateLimit(account.id, X_PATHS.updateProfileImage, { remaining: 0, resetAt, limit: 75 });
      await expect(client.uploadProfileImage(user, await colour('#777777'))).rejects.toMatchObject({ kind: 'rate-limited', status: 429 });
      await client.requestToken('oob');
      const [read, upload, signIn] = seen;
      expect(read).toMatchObject({ endpoint: X_PATHS.verifyCredentials, method: 'GET', status: 200, userKey: xUserKey(account.accessToken.token), rateLimitLimit: DEFAULT_RATE_LIMIT, rateLimitRemaining: DEFAULT_RATE_LIMIT - 1 });
      expect(upload).toMatchObject({ endpoint: X_PATHS.updateProfileImage, method: 'POST', status: 429, userKey: read!.userKey, rateLimitLimit: 75, rateLimitRemaining: 0, rateLimitResetAt: resetAt });
      expect(signIn).toMatchObject({ endpoint: X_PATHS.requestToken, userKey: undefined });
      expect(JSON.stringify(seen)).not.toContain(account.accessToken.token);
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe('a user with no calls left on an endpoint is held until X resets it', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ clock, x: X_OPTIONS, env: { SCHEDULE_MIN_INTERVAL_MS: '1500' } });
  });
  afterAll(async () => {
    expect(h.discord.unexpectedCalls).toEqual([]);
    await h?.close();
    clock.offset = 0;
  });

  it('a command: refused before sending with the reset in the reply; after the reset exactly one request', async () => {
    clock.offset = 0;
    const { user, account } = await newUser(h, 'held_cmd');
    const resetAt = Math.floor(clock.now() / 1000) * 1000 + 10 * MINUTE; // X sends whole seconds
    await spendLastCall(h, user, account, resetAt);

    const held = await avatarCommand(h, user, 'set', image('b.jpg', fixture('flowers.jpeg')));
    expectPlainEphemeral(held.interaction, held.reply, `X allows no more changes of this account until ${hhmm(resetAt)} UTC. Try again in 10 minutes. Nothing was changed.`);
    expect(uploadRequests(h, account)).toEqual([200]); // nothing reached X (the old code got a 429 here)

    clock.offset += 10 * MINUTE + 2_000;
    const after = await avatarCommand(h, user, 'set', image('c.jpg', fixture('flowers.jpeg')));
    expect(after.reply.embeds[0]?.title).toBe('Avatar updated');
    expect(uploadRequests(h, account)).toEqual([200, 200]);
    expectValidSignatures(h.x);
  });

  it('a scheduled change: waits for the reset without a request or a backoff, then uploads once', async () => {
    clock.offset = 0;
    const { user, account } = await newUser(h, 'held_sched');
    await h.services.library.add(user.id, 'img', await colour('#336699'));
    await h.records.schedules.update(user.id, (draft) => void (draft.notify = { mode: 'off' }));
    const resetAt = clock.now() + 20 * MINUTE;
    await spendLastCall(h, user, account, resetAt);

    const set = await h.discord.slash(user, { name: 'schedule', subcommand: 'default', options: { image: 'img' } });
    await set.waitForReply(undefined, 15_000);
    // Held: retried a second after X's reset, and not counted as a 429 (no doubling).
    const retryAt = Math.ceil(resetAt / 1000) * 1000 + 1_000;
    await eventually(async () => expect((await h.services.schedules.get(user.id)).retry).toEqual({ at: new Date(retryAt).toISOString(), rateLimits: 0 }));
    expect(uploadRequests(h, account)).toEqual([200]);

    clock.offset += retryAt - clock.now() + 500;
    await h.services.scheduler.refresh(user.id);
    await h.discord.waitFor(() => uploadRequests(h, account).length === 2, 10_000, 'the scheduled upload after the reset');
    await eventually(async () => expect((await h.services.schedules.get(user.id)).applied?.image).toBe('img'));
    expect(uploadRequests(h, account)).toEqual([200, 200]);
  });

  it('a push member: held, tried again just after the reset, done with one upload', async () => {
    clock.offset = 0;
    const { user, account } = await newUser(h, 'held_push');
    const resetAt = clock.now() + 30 * MINUTE;
    await spendLastCall(h, user, account, resetAt);
    await h.services.branding.consent.join('g-held', user.id);

    const waits: number[] = [];
    const push = createPushRunner({
      store: h.records.store,
      avatars: h.services.avatars,
      consent: h.services.branding.consent,
      coordination: localCoordination(),
      logger: createLogger({ level: 'silent' }),
      clock,
      // A wait moves the clock instead of passing.
      sleep: async (ms) => {
        waits.push(ms);
        clock.offset += ms;
      },
    });
    const job = await push.run(await push.start({ guildId: 'g-held', adminId: 'admin', image: await colour('#993366'), label: 'held' }));
    expect(job.results[user.id]).toMatchObject({ status: 'done', attempts: 2 });
    expect(uploadRequests(h, account)).toEqual([200, 200]);
    // One wait, to a second past X's reset: not the minute-doubling backoff of a 429.
    expect(waits.filter((ms) => ms > 0)).toHaveLength(1);
    await push.stop();
  });
});

describe('X_DAILY_WRITE_BUDGET', () => {
  const BUDGET = 10;
  let h: Harness;
  beforeAll(async () => {
    clock.offset = 0;
    h = await startHarness({ clock, x: X_OPTIONS, env: { X_DAILY_WRITE_BUDGET: String(BUDGET), SCHEDULE_MIN_INTERVAL_MS: '1500' } });
  });
  afterAll(async () => {
    expect(h.discord.unexpectedCalls).toEqual([]);
    await h?.close();
    clock.offset = 0;
  });

  it('shares: a tenth kept for commands, another fifth for schedules', () => {
    expect(budgetShares(BUDGET)).toEqual({ command: 10, schedule: 9, push: 7 });
    expect(budgetShares(1)).toEqual({ command: 1, schedule: 1, push: 1 });
    expect(budgetShares(2_000)).toEqual({ command: 2_000, schedule: 1_800, push: 1_400 });
  });

  it('after 9 writes a push and a schedule wait while a command goes through; the push shows when it finishes; each waiting change is sent once the day has passed', async () => {
    clock.offset = 0;
    const { user: active, account: activeAccount } = await newUser(h, 'budget_cmd');
    for (let write = 1; write <= 9; write++) {
      const { reply } = await avatarCommand(h, active, 'set', image('a.jpg', fixture('flowers.jpeg')));
      expect(reply.embeds[0]?.title, `command ${write}`).toBe('Avatar updated');
    }
    expect(uploadRequests(h, activeAccount)).toHaveLength(9);

    // A push (share 7) is held at once; its progress says when it will be done under the budget.
    const { user: member, account: memberAccount } = await newUser(h, 'budget_push');
    await h.services.branding.consent.join('g-budget', member.id);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let finishAt: number | undefined;
    const progress: PushProgress[] = [];
    const push = createPushRunner({
      store: h.records.store,
      // Two seconds pass on the clock before the member's upload, so the progress is reported when it is held.
      avatars: { ...h.services.avatars, begin: (...args) => ((clock.offset += 2_500), h.services.avatars.begin(...args)) },
      consent: h.services.branding.consent,
      coordination: localCoordination(),
      logger: createLogger({ level: 'silent' }),
      clock,
      writeBudget: h.services.branding.writeBudget!,
      sleep: async (ms, signal) => {
        // The retry is a second after the budget frees a slot (a quarter hour's end: whole seconds); the clock
        // has moved on by a millisecond or two since the pool computed `ms`.
        finishAt ??= Math.round((clock.now() + ms - 1_000) / 1_000) * 1_000;
        await Promise.race([gate, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()))]);
      },
    });
    const running = push.run(await push.start({ guildId: 'g-budget', adminId: 'admin', image: await colour('#119955'), label: 'budget' }), (p) => progress.push(p));
    await eventually(async () => expect(finishAt).toBeDefined());
    const held = progress.find((p) => p.budgetFinishAt !== undefined);
    expect(held?.budgetFinishAt).toBe(finishAt);
    expect(describeProgress(held!, 'en-US')).toBe(`0/1 · done about ${new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' }).format(finishAt)} UTC (daily budget of changes on X)`);
    expect(finishAt! - clock.now()).toBeGreaterThan(24 * 3_600_000 - 60 * MINUTE); // a day after the commands
    expect(uploadRequests(h, memberAccount)).toEqual([]);

    // A schedule (share 9) waits too.
    const { user: scheduled, account: scheduledAccount } = await newUser(h, 'budget_sched');
    await h.services.library.add(scheduled.id, 'img', await colour('#775533'));
    await h.records.schedules.update(scheduled.id, (draft) => void (draft.notify = { mode: 'off' }));
    await (await h.discord.slash(scheduled, { name: 'schedule', subcommand: 'default', options: { image: 'img' } })).waitForReply(undefined, 15_000);
    await eventually(async () => expect((await h.services.schedules.get(scheduled.id)).retry?.rateLimits).toBe(0));
    const scheduledRetry = Date.parse((await h.services.schedules.get(scheduled.id)).retry!.at);
    // Its share is larger, so it is free no later than the push (the same quarter hour, unless the commands spanned two).
    expect(scheduledRetry).toBeLessThanOrEqual(finishAt! + 1_000);
    expect(scheduledRetry - clock.now()).toBeGreaterThan(24 * 3_600_000 - 60 * MINUTE);
    expect(uploadRequests(h, scheduledAccount)).toEqual([]);

    // The tenth write is a command's; the eleventh is refused, with when.
    const tenth = await avatarCommand(h, active, 'set', image('b.jpg', fixture('flowers.jpeg')));
    expect(tenth.reply.embeds[0]?.title).toBe('Avatar updated');
    const eleventh = await avatarCommand(h, active, 'set', image('c.jpg', fixture('flowers.jpeg')));
    expect(eleventh.reply.content).toMatch(/^The bot has used its daily budget of changes on X\. Try again in [\d,]+ minutes \(after \d\d:\d\d UTC\)\. Nothing was changed\.$/);
    expect(uploadRequests(h, activeAccount)).toHaveLength(10);

    // A day later the window has room again: the push member and the scheduled change go, once each.
    clock.offset += finishAt! + 2_000 - clock.now();
    release();
    const job = await running;
    expect(job.results[member.id]).toMatchObject({ status: 'done' });
    await h.services.scheduler.refresh(scheduled.id);
    await h.discord.waitFor(() => uploadRequests(h, scheduledAccount).length === 1, 10_000, 'the scheduled change a day later');
    await eventually(async () => expect((await h.services.schedules.get(scheduled.id)).applied?.image).toBe('img'));
    expect(uploadRequests(h, memberAccount)).toEqual([200]);
    expect(uploadRequests(h, scheduledAccount)).toEqual([200]);
    await push.stop();
  });
});

describe('a push under a budget of 1', () => {
  let h: Harness;
  beforeAll(async () => {
    clock.offset = 0;
    // A week passes on the clock here: the X server accepts OAuth timestamps a month apart.
    h = await startHarness({ clock, x: { ...X_OPTIONS, timestampWindowSec: 30 * 86_400 }, env: { X_DAILY_WRITE_BUDGET: '1' } });
  });
  afterAll(async () => {
    expect(h.discord.unexpectedCalls).toEqual([]);
    await h?.close();
    clock.offset = 0;
  });

  it('waits as long as the budget holds it (six days of commands taking each freed slot), not five tries, then uploads once', async () => {
    const { user: active } = await newUser(h, 'taker');
    const { user: member, account: memberAccount } = await newUser(h, 'patient');
    await h.services.branding.consent.join('g-patient', member.id);
    await h.services.avatars.apply(active.id, await colour('#101010'), 'upload', 'day 0');
    let days = 0;
    const push = createPushRunner({
      store: h.records.store,
      avatars: h.services.avatars,
      consent: h.services.branding.consent,
      coordination: localCoordination(),
      logger: createLogger({ level: 'silent' }),
      clock,
      // Each wait passes on the clock, and for six days a command takes the slot the window freed.
      sleep: async (ms) => {
        clock.offset += ms;
        if (ms > 0 && days < 6) await h.services.avatars.apply(active.id, await colour(`#${(++days).toString(16).padStart(2, '0')}2020`), 'upload', `day ${days}`);
      },
    });
    const job = await push.run(await push.start({ guildId: 'g-patient', adminId: 'admin', image: await colour('#5050f0'), label: 'patient' }));
    expect(days).toBe(6);
    expect(job.results[member.id]).toMatchObject({ status: 'done', attempts: 8 });
    expect(uploadRequests(h, memberAccount)).toEqual([200]);
    await push.stop();
  });

  it("the admin's push message in Discord says when the push will be done under the budget, in the admin's language", async () => {
    const admin = h.discord.addMember({ username: 'budget_admin', permissions: 1n << 5n }); // Manage Server
    const { user: member, account } = await newUser(h, 'budget_waiting');
    await (await h.discord.slash(member, { name: 'branding-consent', subcommand: 'join' })).waitForReply();
    // The window is full: a command takes the only slot (or the last test's upload has it already).
    const { user: filler } = await newUser(h, 'budget_filler');
    await h.services.avatars.apply(filler.id, await colour('#0a0a0a'), 'upload', 'fill').catch((error: unknown) => {
      if (!(error instanceof XApiError && error.variant === 'budget')) throw error;
    });
    const uploadsBefore = uploadRequests(h, account).length;
    // Each profile read (the member's original is read before the upload) moves the clock on, so the push
    // reports its progress when the member is held.
    h.x.setRequestHook(({ path }) => void (path === X_PATHS.verifyCredentials && (clock.offset += 2_500)));
    try {
      const photo = await sharp({ create: { width: 900, height: 600, channels: 3, background: '#2266aa' } }).jpeg().toBuffer();
      const push = await h.discord.slash(admin, { name: 'branding', subcommand: 'push', options: { image: { attachment: { filename: 'brand.jpg', bytes: photo } }, label: 'Herbst' } as never }, { locale: 'de' });
      const prompt = await push.waitForReply((message) => JSON.stringify(message.components).includes('branding-push-confirm:'), 15_000);
      const click = await push.click(/"custom_id":"(branding-push-confirm:[^"]+)"/.exec(JSON.stringify(prompt.components))![1]!);
      const progress = await click.waitForReply((message) => message.content.includes('fertig etwa'), 15_000);
      const window = (await h.records.store.namespace<Record<string, number>>('x-write-budget').get('window'))!;
      const lastBucket = Math.max(...Object.keys(window).map(Number));
      const doneAt = new Intl.DateTimeFormat('de', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' }).format(lastBucket + BUDGET_BUCKET_MS + BUDGET_WINDOW_MS);
      expect(progress.content).toBe(`Verteile „Herbst“: 0/1 · fertig etwa ${doneAt} UTC (tägliches Budget an Änderungen bei X)`);
      expect(uploadRequests(h, account)).toHaveLength(uploadsBefore);
    } finally {
      h.x.setRequestHook(undefined);
    }
  });
});

describe('a kit push under the budget', () => {
  let h: Harness;
  beforeAll(async () => {
    clock.offset = 0;
    h = await startHarness({ clock, x: X_OPTIONS, env: { X_DAILY_WRITE_BUDGET: '10' } });
  });
  afterAll(async () => {
    expect(h.discord.unexpectedCalls).toEqual([]);
    await h?.close();
    clock.offset = 0;
  });

  it('a part held back after another was sent waits with its member, and is sent once; the part sent is not sent again', async () => {
    const { user: filler } = await newUser(h, 'kit_filler');
    for (let write = 1; write <= 6; write++) await h.services.avatars.apply(filler.id, await colour(`#0${write}0${write}0${write}`), 'upload', `fill ${write}`);
    const { user: member, account } = await newUser(h, 'kit_member');
    h.x.setProfile(account.id, { name: 'Ana' });
    await h.services.branding.consent.join('g-kit', member.id, ['avatar', 'name']);
    const push = createPushRunner({
      store: h.records.store,
      avatars: h.services.avatars,
      consent: h.services.branding.consent,
      kits: h.services.kits,
      coordination: localCoordination(),
      logger: createLogger({ level: 'silent' }),
      clock,
      sleep: async (ms) => void (clock.offset += ms),
    });
    // The push's share is 7 of 10: its avatar is the seventh write, its name would be the eighth.
    const kit = { name: 'team', addedAt: new Date().toISOString(), nameTemplate: '{name} | Team', images: { avatar: await colour('#aa2200') } };
    const job = await push.run(await push.start({ guildId: 'g-kit', adminId: 'admin', kit, label: 'kit' }));
    expect(job.results[member.id]).toMatchObject({ status: 'done', parts: { avatar: { status: 'done' }, name: { status: 'done' } } });
    expect(h.x.profile(account.id).name).toBe('Ana | Team');
    expect(uploadRequests(h, account)).toEqual([200]);
    const nameWrites = h.x.requests.filter((request) => request.path === X_PATHS.updateProfile && request.oauthParams?.oauth_token === account.accessToken.token);
    expect(nameWrites.map((request) => request.status)).toEqual([200]);
    await push.stop();
  });
});

describe('the finish time of a push under the budget', () => {
  it("is in the reader's language, and replaces the estimate from the pace so far", () => {
    const progress: PushProgress = { phase: 'push', done: 3, failed: 1, skipped: 0, total: 120, etaSeconds: 40, budgetFinishAt: Date.UTC(2026, 11, 2, 14, 15) };
    expect(describeProgress(progress, 'en-US')).toBe('4/120 · 1 failed · done about Dec 2, 14:15 UTC (daily budget of changes on X)');
    expect(describeProgress(progress, 'de')).toBe('4/120 · 1 fehlgeschlagen · fertig etwa 2. Dez., 14:15 UTC (tägliches Budget an Änderungen bei X)');
    expect(describeProgress(progress, 'ja')).toBe('4/120 · 失敗 1 · 完了見込み 12月2日 14:15 UTC（X での 1 日の変更上限）');
  });
});

const redisUrl = process.env.REDIS_URL;
describe.each(redisUrl ? [`${redisUrl.replace(/\/\d*$/, '')}/3`] : [])('two processes on one Redis (%s)', (storeUrl) => {
  let x: XServer;
  let dir: string;
  let a: Services;
  let b: Services;
  let records: Records;
  let nextId = 0;
  /** A Discord user linked (in the shared store) to a new X account. */
  const linked = async (): Promise<{ id: string; account: FakeXUser }> => {
    const account = x.addUser({ screenName: `shared${nextId}` });
    const id = String(400_000_000_000_000_000n + BigInt(nextId++));
    await records.vault.save(id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
    return { id, account };
  };
  beforeAll(async () => {
    const { createClient } = await import('@keyv/redis');
    const redis = createClient({ url: storeUrl });
    await redis.connect();
    await redis.flushDb(); // this suite's own database
    await redis.quit();
    x = await startXServer();
    dir = mkdtempSync(join(tmpdir(), 'avatar-bot-budget-'));
    const config = parseConfig(localServicesEnv(x, dir, { STORE_URL: storeUrl, X_DAILY_WRITE_BUDGET: '5' }));
    const logger = createLogger({ level: 'silent' });
    [a, b] = [await createServices(config, logger), await createServices(config, logger)];
    records = await openRecords(config);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close(), records?.close()]);
    await x?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a user one process saw at remaining 0 is held in the other, with no request to X', async () => {
    const { id, account } = await linked();
    x.setRateLimit(account.id, X_PATHS.updateProfileImage, { remaining: 1, resetAt: Date.now() + 15 * MINUTE });
    await a.avatars.apply(id, await colour('#123456'), 'upload', 'last call');
    await expect(b.avatars.apply(id, await colour('#654321'), 'upload', 'held')).rejects.toMatchObject({ kind: 'rate-limited', variant: 'held' });
    expect(uploadRequests({ x }, account)).toEqual([200]);
  });

  it('share one budget: of 6 writes at once, 3 from each, exactly the 4 left reach X', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => linked()));
    const uploads = x.uploads.length;
    const picture = await colour('#224466');
    const outcomes = await Promise.allSettled(users.map(({ id }, index) => (index % 2 ? b : a).avatars.apply(id, picture, 'upload', 'budget')));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(4);
    const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
    expect(refused.map((error) => error instanceof XApiError && `${error.kind}.${error.variant}`)).toEqual(['rate-limited.budget', 'rate-limited.budget']);
    expect(x.uploads.length - uploads).toBe(4);
  });
});
