/**
 * Issue 12, the spread: scheduled changes due at the same instant are spread over SCHEDULE_SPREAD_S, each
 * user at a stable offset in it (plan.ts `spreadOffsetMs`). The real bot (discord.js client, node-cron,
 * SQLite) against the local Discord and X servers; the scheduler's clock is moved so that the midnight is
 * seconds away (node-cron fires on the real clock, shifted by a whole number of seconds, so a timer never
 * fires before its second). The window is shorter than the production 60 s to keep the run short: the
 * wave of 1,000 users then comes at 50 a second instead of 17, which is the harder case. With REDIS_URL,
 * two bot processes (dist/) share one Redis and its run leases.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { formatInZone, instantToZoned, zonedTimeToInstant } from '../../src/schedule/engine.js';
import { spreadOffsetMs } from '../../src/schedule/plan.js';
import type { ScheduleRecord } from '../../src/schedule/store.js';
import { randomBytes } from 'node:crypto';
import { openStore } from '../../src/store/backend.js';
import { createSecretBox } from '../../src/store/cipher.js';
import { createAvatarLibrary } from '../../src/library/store.js';
import { createScheduleStore } from '../../src/schedule/store.js';
import { createTokenVault } from '../../src/accounts/vault.js';
import { startHarness, type Harness } from '../support/bot-harness.js';
import { startBotProcess, type BotProcess } from '../support/bot-process.js';
import { startDiscordServer } from '../support/discord-server.js';
import { eventually } from '../support/eventually.js';
import { startXServer } from '../support/x-server.js';

const WINDOW_S = 20;
const WINDOW_MS = WINDOW_S * 1000;
const USERS = 1000;
const ZONE = 'Asia/Tokyo';
/** The local midnight every season of the wave starts at: 2027-03-01 00:00 in Tokyo. */
const MIDNIGHT = zonedTimeToInstant(ZONE, { year: 2027, month: 3, day: 1, hour: 0, minute: 0 }).getTime();
const DAY_MS = 86_400_000;

const clock = { offset: 0, now: () => Date.now() + clock.offset };
/** Move the scheduler's clock so that `at` is `leadMs` away, by whole seconds (see the header). */
const setNow = (at: number, leadMs: number) => {
  clock.offset = Math.round((at - leadMs - Date.now()) / 1000) * 1000;
};

let h: Harness;
let images: { a: Buffer; b: Buffer };
beforeAll(async () => {
  h = await startHarness({ clock, env: { SCHEDULE_SPREAD_S: String(WINDOW_S), LOG_LEVEL: 'info' } });
  const [a, b] = await Promise.all(['#cc2222', '#22cc22'].map((colour) => sharp({ create: { width: 400, height: 400, channels: 3, background: colour } }).jpeg().toBuffer()));
  images = { a: a!, b: b! };
}, 60_000);
afterAll(async () => {
  expect(h.discord.unexpectedCalls).toEqual([]);
  await h?.close();
});

/** A season of `b` from `from` (MM-DD) in Tokyo over a default `a`, `a` already applied: nothing to do before the season starts. */
function seasonRecord(from: string, to: string): ScheduleRecord {
  const longAgo = new Date(Date.now() - 30 * DAY_MS).toISOString();
  return {
    timezone: ZONE,
    defaultImage: 'a',
    schedules: [{ kind: 'season', id: 'spring', createdAt: longAgo, image: 'b', from, to }],
    notify: { mode: 'off' },
    applied: { image: 'a', at: longAgo },
    lastRun: { at: longAgo, outcome: 'applied', detail: 'a' },
  };
}

describe('the spread offset', () => {
  it('is whole seconds in [0, window), the same for the same id, and about uniform over snowflake-like ids', () => {
    const counts = new Array<number>(60).fill(0);
    const base = 1_300_000_000_000_000_000n;
    const ids = 60_000;
    for (let i = 0; i < ids; i++) {
      const id = String(base + BigInt(i)); // consecutive ids: what one Discord worker hands out
      const offset = spreadOffsetMs(id, 60_000);
      expect(offset % 1000).toBe(0);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(60_000);
      counts[offset / 1000]! += 1;
    }
    expect(spreadOffsetMs(String(base), 60_000)).toBe(spreadOffsetMs(String(base), 60_000));
    // 1,000 a second expected; a binomial's spread is ~31, so ±15 % is far outside chance.
    expect(Math.min(...counts)).toBeGreaterThan(850);
    expect(Math.max(...counts)).toBeLessThan(1150);
    expect(spreadOffsetMs(String(base), 0)).toBe(0);
  });

  it('SCHEDULE_SPREAD_S is 60 by default, 0 turns it off, and a value over an hour is refused naming the variable', () => {
    expect(parseConfig({}).scheduleSpreadS).toBe(60);
    expect(parseConfig({ SCHEDULE_SPREAD_S: '0' }).scheduleSpreadS).toBe(0);
    expect(() => parseConfig({ SCHEDULE_SPREAD_S: '3601' })).toThrow(/SCHEDULE_SPREAD_S/);
    expect(() => parseConfig({ SCHEDULE_SPREAD_S: '-1' })).toThrow(/SCHEDULE_SPREAD_S/);
  });
});

describe(`the spread, window SCHEDULE_SPREAD_S=${WINDOW_S} (production: 60)`, () => {
  it('/schedule season and /schedule list show the spread-adjusted time, the instant the scheduler plans', async () => {
    clock.offset = 0; // /schedule list reads the real clock
    // A member whose offset is not 0 s (0 shows no seconds: nothing moved).
    let user = h.discord.addMember({ username: 'lister' });
    while (spreadOffsetMs(user.id, WINDOW_MS) === 0) user = h.discord.addMember({ username: 'lister' });
    await h.linkUser(user, 'lister_x');
    await h.services.library.add(user.id, 'a', { data: images.a, format: 'jpeg' });
    await h.services.library.add(user.id, 'b', { data: images.b, format: 'jpeg' });
    // The season starts at Tokyo midnight two days from now (local), so no change is due meanwhile.
    const today = instantToZoned(ZONE, new Date());
    const start = zonedTimeToInstant(ZONE, { year: today.year, month: today.month, day: today.day, hour: 0, minute: 0 }).getTime() + 2 * DAY_MS;
    const startDay = instantToZoned(ZONE, new Date(start + 12 * 3_600_000));
    const from = `${String(startDay.month).padStart(2, '0')}-${String(startDay.day).padStart(2, '0')}`;
    const { schedules: _none, ...settings } = seasonRecord(from, from);
    await h.services.scheduler.edit(user.id, (draft) => void Object.assign(draft, settings));
    const offset = spreadOffsetMs(user.id, WINDOW_MS);
    const expected = `${formatInZone(new Date(start + offset), ZONE, { seconds: true })} → b`;
    expect(expected).toMatch(/ 00:00:\d\d → b$/);

    const added = await h.discord.slash(user, { name: 'schedule', subcommand: 'season', options: { image: 'b', from, to: from } });
    expect((await added.waitForReply(undefined, 15_000)).content).toContain(`Next change: ${expected}.`);
    const list = await h.discord.slash(user, { name: 'schedule', subcommand: 'list' });
    expect((await list.waitForReply(undefined, 15_000)).content).toContain(`Next change: ${expected}`);
    await eventually(async () => expect(h.services.scheduler.plannedAt(user.id)?.getTime()).toBe(start + offset));
  }, 60_000);

  type Member = { user: string; account: string; slotMs: number };

  /** `count` linked users (ids a millisecond apart, as Discord hands them out) whose season of `b` starts at
   *  `midnight` (Tokyo), seeded while the bot is down; the bot starts with its clock at `startAt`. */
  async function seedWave(prefix: bigint, count: number, midnight: number, startAt: number): Promise<Member[]> {
    const members: Member[] = [];
    const day = instantToZoned(ZONE, new Date(midnight));
    const from = `${String(day.month).padStart(2, '0')}-${String(day.day).padStart(2, '0')}`;
    await h.restart(async () => {
      for (let i = 0; i < count; i++) {
        const user = String(prefix + BigInt(i) * 4_194_304n);
        const account = h.x.addUser({ screenName: `w${String(prefix).slice(0, 4)}_${i}` });
        await h.records.vault.save(user, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
        await h.records.library.add(user, 'a', { data: images.a, format: 'jpeg' });
        await h.records.library.add(user, 'b', { data: images.b, format: 'jpeg' });
        await h.records.schedules.update(user, () => seasonRecord(from, from));
        members.push({ user, account: account.id, slotMs: midnight + spreadOffsetMs(user, WINDOW_MS) });
      }
      setNow(startAt, 0);
    });
    return members;
  }

  /** Waits until every member's account got an upload, then returns each one's uploads and 'scheduled change applied' lines. */
  async function outcome(members: Member[]) {
    const accounts = new Set(members.map((member) => member.account));
    const uploads = () => h.x.uploads.filter((upload) => accounts.has(upload.userId));
    await eventually(async () => expect(new Set(uploads().map((upload) => upload.userId)).size).toBe(members.length), 90_000, 200);
    const users = new Set(members.map((member) => member.user));
    const appliedLines = () =>
      h.logs.map((line) => JSON.parse(line) as { msg?: string; user?: string; due?: number }).filter((line) => line.msg === 'scheduled change applied' && users.has(line.user!));
    await eventually(async () => expect(appliedLines().length).toBeGreaterThanOrEqual(members.length), 30_000, 200);
    return { uploads: uploads(), applied: appliedLines() };
  }

  it(`1,000 users whose season starts at the same Tokyo midnight: spread over ${WINDOW_S} s in a stable per-user order, none before its second, none later than the window, none twice, every one changed`, async () => {
    // The start's catch-up reads every record and plans every user: it must upload nothing before midnight.
    const wave = await seedWave(1_310_000_000_000_000_000n, USERS, MIDNIGHT, MIDNIGHT - 12_000);
    expect(clock.now()).toBeLessThan(MIDNIGHT); // the catch-up was done before the wave
    for (const member of wave.slice(0, 50)) expect(h.services.scheduler.plannedAt(member.user)?.getTime()).toBe(member.slotMs);
    const { uploads, applied } = await outcome(wave);

    const shift = clock.offset; // the scheduler's clock = real + shift
    expect(uploads).toHaveLength(USERS); // none twice
    const slotOf = new Map(wave.map((member) => [member.account, member.slotMs]));
    for (const upload of uploads) {
      const slot = slotOf.get(upload.userId)!;
      // X never sees a user's upload before their second (causal: the timer fires at it) ...
      expect(upload.at + shift).toBeGreaterThanOrEqual(slot);
      // ... and that second is inside the window.
      expect(slot).toBeLessThan(MIDNIGHT + WINDOW_MS);
    }
    // Each change is made by the user's own timer at their second, once.
    expect(applied).toHaveLength(USERS);
    const slotOfUser = new Map(wave.map((member) => [member.user, member.slotMs]));
    for (const line of applied) expect(line.due).toBe(slotOfUser.get(line.user!));
    // The seconds are used about evenly: 50 a second expected (a binomial's spread is ~7).
    const perSecond = new Array<number>(WINDOW_S).fill(0);
    for (const member of wave) perSecond[(member.slotMs - MIDNIGHT) / 1000]! += 1;
    expect(Math.min(...perSecond)).toBeGreaterThan((0.4 * USERS) / WINDOW_S);
    expect(Math.max(...perSecond)).toBeLessThan((1.8 * USERS) / WINDOW_S);
    for (const member of wave.slice(0, 100)) expect((await h.records.schedules.get(member.user)).applied?.image).toBe('b');
  }, 240_000);

  it('a start in the middle of the window catches up only the users whose second has passed; the others change at their own second, once', async () => {
    const midnight = zonedTimeToInstant(ZONE, { year: 2027, month: 4, day: 1, hour: 0, minute: 0 }).getTime();
    const members = await seedWave(1_320_000_000_000_000_000n, 40, midnight, midnight + WINDOW_MS / 2);
    const startedAt = clock.now();
    const passed = members.filter((member) => member.slotMs <= midnight + WINDOW_MS / 2);
    expect(passed.length).toBeGreaterThan(5);
    expect(passed.length).toBeLessThan(members.length - 5);
    const { uploads, applied } = await outcome(members);
    expect(uploads).toHaveLength(members.length);
    expect(applied).toHaveLength(members.length);
    const byUser = new Map(members.map((member) => [member.user, member]));
    for (const line of applied) {
      const member = byUser.get(line.user!)!;
      // The catch-up (no due) only for a second that had passed; a timer at the user's second for the rest.
      if (line.due === undefined) expect(member.slotMs).toBeLessThanOrEqual(startedAt);
      else expect(line.due).toBe(member.slotMs);
    }
    for (const member of members.filter((candidate) => candidate.slotMs > startedAt + 1000)) {
      expect(applied.find((line) => line.user === member.user)?.due).toBe(member.slotMs);
    }
  }, 120_000);
});

const redisUrl = process.env.REDIS_URL;
/** REDIS_URL's own database when it names one (each developer's), else 13 (CI: the other suites use 1, 4, 6, 7, 10). */
const spreadRedis = redisUrl && (/\/\d+$/.test(redisUrl) ? redisUrl : `${redisUrl}/13`);
const SHARED_USERS = 200;
const SHARED_WINDOW_S = 10;

describe.each(spreadRedis ? [spreadRedis] : [])(`two bot processes on one Redis (%s), SCHEDULE_SPREAD_S=${SHARED_WINDOW_S}`, (storeUrl) => {
  it(`${SHARED_USERS} users due at the same second: each changes once, at its own second in the window, whichever process runs it`, async () => {
    const { createClient } = await import('@keyv/redis');
    const redis = createClient({ url: storeUrl });
    await redis.connect();
    await redis.flushDb();
    await redis.quit();
    const discord = await startDiscordServer();
    const x = await startXServer({ processingDelayMs: 0 });
    const bots: BotProcess[] = [];
    try {
      const key = randomBytes(32);
      const store = await openStore(storeUrl);
      const vault = createTokenVault(store, createSecretBox(key));
      const library = createAvatarLibrary(store);
      const schedules = createScheduleStore(store);
      // A rotation whose six-field cron matches only the second D (UTC): 'a' before it, 'b' from it (as bench/schedules.ts).
      const dueMs = Math.ceil((Date.now() + 30_000) / 1000) * 1000; // both processes start and catch up in ~10 s here
      const d = new Date(dueMs);
      const every = `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} ${d.getUTCDate()} ${d.getUTCMonth() + 1} *`;
      const longAgo = new Date(Date.now() - DAY_MS).toISOString();
      const members: Array<{ user: string; account: string; slotMs: number }> = [];
      for (let i = 0; i < SHARED_USERS; i++) {
        const user = String(1_330_000_000_000_000_000n + BigInt(i) * 4_194_304n);
        const account = x.addUser({ screenName: `shared${i}` });
        await vault.save(user, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
        await library.add(user, 'a', { data: images.a, format: 'jpeg' });
        await library.add(user, 'b', { data: images.b, format: 'jpeg' });
        await schedules.update(user, () => ({
          timezone: 'UTC',
          schedules: [{ kind: 'rotation', id: `r${i}`, createdAt: longAgo, images: ['a', 'b'], every, order: 'sequence' }],
          notify: { mode: 'off' },
          applied: { image: 'a', at: longAgo },
          lastRun: { at: longAgo, outcome: 'applied', detail: 'a' },
        }));
        members.push({ user, account: account.id, slotMs: dueMs + spreadOffsetMs(user, SHARED_WINDOW_S * 1000) });
      }
      await store.close();
      const env = { STORE_URL: storeUrl, TOKEN_ENCRYPTION_KEY: key.toString('base64'), SCHEDULE_SPREAD_S: String(SHARED_WINDOW_S) };
      bots.push(...(await Promise.all([startBotProcess(discord, x, 'node', env), startBotProcess(discord, x, 'node', env)])));
      for (const bot of bots) await bot.waitForLine((line) => line.includes('"msg":"schedule catch-up done"'), 30_000);
      expect(Date.now()).toBeLessThan(dueMs); // both planned before D
      const accounts = new Set(members.map((member) => member.account));
      const uploads = () => x.uploads.filter((upload) => accounts.has(upload.userId));
      await eventually(async () => expect(new Set(uploads().map((upload) => upload.userId)).size).toBe(SHARED_USERS), dueMs + SHARED_WINDOW_S * 1000 + 60_000 - Date.now(), 200);
      const applied = () => bots.flatMap((bot) => bot.lines.map((line) => JSON.parse(line) as { msg?: string; user?: string; due?: number }).filter((line) => line.msg === 'scheduled change applied'));
      await eventually(async () => expect(applied().length).toBeGreaterThanOrEqual(SHARED_USERS), 20_000, 200);

      expect(uploads()).toHaveLength(SHARED_USERS); // none twice, across both processes
      const slotOf = new Map(members.map((member) => [member.account, member.slotMs]));
      for (const upload of uploads()) {
        expect(upload.at).toBeGreaterThanOrEqual(slotOf.get(upload.userId)!); // never before its second
        expect(slotOf.get(upload.userId)!).toBeLessThan(dueMs + SHARED_WINDOW_S * 1000);
      }
      const slotOfUser = new Map(members.map((member) => [member.user, member.slotMs]));
      expect(applied()).toHaveLength(SHARED_USERS);
      for (const line of applied()) expect(line.due).toBe(slotOfUser.get(line.user!)); // both processes armed the same second
    } finally {
      for (const bot of bots) bot.cleanUp();
      await Promise.all([discord.close(), x.close()]);
    }
  }, 180_000);
});
