/**
 * The scheduler's restore at start on a real SQLite store: every record is read once, by the listing, a
 * page at a time (3,000 records: 3 queries, where it listed them and then read each again, 3,004), the
 * plans are the ones each record calls for, a user who needs a change is still caught up from a fresh
 * read, an edit made while the restore runs is not undone by the restore's older copy, and the event loop
 * gets a turn at least every 50 ms of CPU (the bot answers interactions meanwhile). Team seasons are read
 * once per server that has them (they were read once per user: 3,000 consent reads), and a member of two
 * such servers is read on their own (their opt-in order decides which season they wear).
 *
 * The statements are counted by wrapping the query function of the schedules namespace's keyv SQLite
 * adapter: the store, the SQL and the file are real.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsentStore } from '../../src/branding/consent.js';
import { createTeamSeasons, teamLibraryOwner } from '../../src/branding/team-seasons.js';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { activeImageAt, type Schedule } from '../../src/schedule/engine.js';
import { plannedChange, type Team } from '../../src/schedule/plan.js';
import { createScheduler, type CatchUp, type Scheduler } from '../../src/schedule/scheduler.js';
import { createServices, type Services } from '../../src/services.js';
import { openStore, type Store } from '../../src/store/backend.js';
import { createAvatarLibrary } from '../../src/library/store.js';
import { localCoordination } from '../../src/coordination/runs.js';
import { createScheduleStore, type ScheduleRecord, type ScheduleStore } from '../../src/schedule/store.js';
import { localServicesEnv } from '../support/bot-harness.js';
import { startXServer, type XServer } from '../support/x-server.js';

const USERS = 3_000;
const PAGE = 1_000; // the store's LIST_PAGE_SIZE
const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 5, 15, 12, 0, 0); // the scheduler's clock: nothing below changes within 10 minutes of it
const MIN_INTERVAL_MS = 15 * 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const monthDay = (ms: number) => iso(ms).slice(5, 10);
const userId = (i: number) => String(600_000_000_000_000_000n + BigInt(i)); // same length: key order is i's order

/** An ordinary user: a daily rotation over two seasons and a coming event, with what it calls for applied. */
function ordinary(i: number): ScheduleRecord {
  const schedules: Schedule[] = [
    { kind: 'season', id: `w${i}`, createdAt: iso(NOW - 300 * DAY_MS), image: 'winter', from: '12-01', to: '02-28', priority: 1 },
    { kind: 'season', id: `s${i}`, createdAt: iso(NOW - 300 * DAY_MS), image: 'summer', from: '07-01', to: '08-31' },
    { kind: 'rotation', id: `r${i}`, createdAt: iso(NOW - (50 + (i % 200)) * DAY_MS), images: ['a', 'b', 'c'], every: 'daily', order: 'sequence' },
    { kind: 'event', id: `e${i}`, createdAt: iso(NOW - DAY_MS), image: 'party', at: '2026-09-01 18:00', until: '2026-09-02 02:00', atUtc: iso(Date.UTC(2026, 8, 1, 18)), untilUtc: iso(Date.UTC(2026, 8, 2, 2)) },
  ];
  const record: ScheduleRecord = { timezone: ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo'][i % 4]!, defaultImage: 'a', schedules, notify: { mode: 'off' } };
  const image = activeImageAt(record, new Date(NOW)).image!;
  record.applied = { image, at: iso(NOW - DAY_MS) };
  record.lastRun = { at: record.applied.at, outcome: 'applied', detail: image };
  return record;
}

/** A season-only user whose season starts `days` from NOW (UTC): "a" now, applied. */
function seasonal(i: number, days: number): ScheduleRecord {
  return {
    timezone: 'UTC',
    defaultImage: 'a',
    schedules: [{ kind: 'season', id: `only${i}`, createdAt: iso(NOW - DAY_MS), image: 'b', from: monthDay(NOW + days * DAY_MS), to: monthDay(NOW + (days + 3) * DAY_MS) }],
    notify: { mode: 'off' },
    applied: { image: 'a', at: iso(NOW - DAY_MS) },
  };
}

const EDITED = 990; // late in the first page: the restore reaches it after the edit below
/** Season-only users (their own season in 30 days) who opted in to servers whose team season comes sooner. */
const TEAM_MEMBERS = [20, 21, 22, 23, 24];
const IN_TWO_SERVERS = 22;
const teamSeason = (id: string, days: number) => ({ kind: 'season' as const, id, createdAt: iso(NOW - DAY_MS), image: `team-${id}`, from: monthDay(NOW + days * DAY_MS), to: monthDay(NOW + (days + 2) * DAY_MS) });
const GUILDS: Team[] = [
  { guildId: '700000000000000001', seasons: [teamSeason('g1', 10)] },
  { guildId: '700000000000000002', seasons: [teamSeason('g2', 12)] },
];
/** The teams of user i, in their opt-in order (the second server first for the member of both). */
const teamsOf = (i: number): Team[] => (i === IN_TWO_SERVERS ? [GUILDS[1]!, GUILDS[0]!] : TEAM_MEMBERS.includes(i) ? [GUILDS[0]!] : []);
const NEEDS_CHANGE = 1_500;

describe('restoring 3,000 schedule records from SQLite', () => {
  let x: XServer;
  let dir: string;
  let services: Services;
  let store: Store;
  let scheduler: Scheduler;
  let restored: CatchUp;
  const statements: Array<{ sql: string; key?: unknown }> = [];
  const consentReads: string[] = [];
  let longestTurnMs = 0;
  let turns = 0;

  beforeAll(async () => {
    x = await startXServer();
    dir = mkdtempSync(join(tmpdir(), 'avatar-bot-restore-'));
    const config = parseConfig(localServicesEnv(x, dir, { SCHEDULE_MIN_INTERVAL_MS: String(MIN_INTERVAL_MS) }));
    store = await openStore(config.storeUrl);
    const records = store.namespace<ScheduleRecord>('schedules');
    for (let from = 0; from < USERS; from += 500) {
      await records.setMany(
        Array.from({ length: 500 }, (_, k) => {
          const i = from + k;
          const record = i === EDITED ? seasonal(i, 10) : TEAM_MEMBERS.includes(i) ? seasonal(i, 30) : ordinary(i);
          if (i === NEEDS_CHANGE) record.applied = { image: 'an older image', at: iso(NOW - DAY_MS) }; // its library is empty: the change fails
          return { key: userId(i), value: record };
        }),
      );
    }
    const consent = createConsentStore(store);
    const teamSeasons = createTeamSeasons(store, consent);
    for (const i of TEAM_MEMBERS) for (const team of teamsOf(i)) await consent.join(team.guildId, userId(i));
    for (const team of GUILDS) for (const season of team.seasons) await teamSeasons.add(team.guildId, season);
    services = await createServices(config, createLogger({ level: 'silent' }));

    const adapter = (records as Keyv & { store: { query(sql: string, ...parameters: unknown[]): Promise<unknown[]> } }).store;
    const query = adapter.query;
    adapter.query = (sql: string, ...parameters: unknown[]) => {
      const first = parameters[0];
      // A point read's key: the one parameter (the adapter takes its parameters as an array).
      statements.push({ sql, key: Array.isArray(first) ? (first.length === 1 ? first[0] : undefined) : first });
      return query(sql, ...parameters);
    };
    const consentAdapter = (store.namespace('branding-consent') as Keyv & { store: typeof adapter }).store;
    const consentQuery = consentAdapter.query;
    consentAdapter.query = (sql: string, ...parameters: unknown[]) => {
      const first = parameters[0];
      consentReads.push(String(Array.isArray(first) ? first[0] : first));
      return consentQuery(sql, ...parameters);
    };

    // The user EDITED changes their season (a command: update, then refresh) once the first page is listed.
    const schedules: ScheduleStore = createScheduleStore(store);
    const listing: ScheduleStore = {
      ...schedules,
      async *pages() {
        let first = true;
        for await (const page of schedules.pages()) {
          if (first) {
            first = false;
            expect(page.some(([id]) => id === userId(EDITED))).toBe(true);
            await schedules.update(userId(EDITED), () => seasonal(EDITED, 5));
            await scheduler.refresh(userId(EDITED));
          }
          yield page;
        }
      },
    };
    scheduler = createScheduler({
      schedules: listing,
      library: createAvatarLibrary(store),
      avatars: services.avatars,
      coordination: localCoordination(),
      logger: createLogger({ level: 'silent' }),
      notify: async () => false,
      teams: { forMember: (userId) => teamSeasons.forMember(userId), everyMember: () => teamSeasons.everyMember(), libraryOwner: teamLibraryOwner },
      minIntervalMs: MIN_INTERVAL_MS,
      clock: { now: () => NOW },
    });

    // The longest the event loop went without a turn, in CPU time of the main thread (Linux counts it per
    // thread in schedstat, in ns): unlike wall time it leaves out the machine's other load, and unlike
    // process.cpuUsage the GC's and SQLite's own threads (the fallback elsewhere).
    const mainThreadMs = existsSync(`/proc/self/task/${process.pid}/schedstat`)
      ? () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6
      : () => {
          const { user, system } = process.cpuUsage();
          return (user + system) / 1000;
        };
    let last = mainThreadMs();
    const ticker = setInterval(() => {
      const now = mainThreadMs();
      longestTurnMs = Math.max(longestTurnMs, now - last);
      last = now;
      turns++;
    }, 1);
    try {
      last = mainThreadMs();
      restored = await scheduler.start();
    } finally {
      clearInterval(ticker);
    }
  }, 120_000);

  afterAll(async () => {
    await scheduler?.stop();
    await services?.close();
    await store?.close();
    await x?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads each record once, by listing them a page at a time', () => {
    expect(restored.users).toBe(USERS);
    const listings = statements.filter(({ sql }) => /ORDER BY key/i.test(sql));
    expect(listings).toHaveLength(Math.ceil(USERS / PAGE) + (USERS % PAGE === 0 ? 1 : 0));
    // Point reads only for the two users something happened to: the edit and the change it needed.
    const pointReads = statements.filter(({ sql }) => /WHERE key = \?/i.test(sql));
    expect(new Set(pointReads.map(({ key }) => key))).toEqual(new Set([`schedules:${userId(EDITED)}`, `schedules:${userId(NEEDS_CHANGE)}`]));
    expect(pointReads.length).toBeLessThan(12);
  });

  it('plans every user as their record says', async () => {
    const wrong: string[] = [];
    for (let i = 0; i < USERS; i++) {
      const record = await services.schedules.get(userId(i));
      const expected = plannedChange(record, teamsOf(i), new Date(NOW), MIN_INTERVAL_MS)?.at.getTime();
      if (scheduler.plannedAt(userId(i))?.getTime() !== expected) wrong.push(`${i}: ${scheduler.plannedAt(userId(i))?.toISOString()} instead of ${expected && iso(expected)}`);
    }
    expect(wrong).toEqual([]);
    expect(restored.armed).toBe(0);
  });

  it('reads team seasons once per server with seasons, and a member of two servers on their own', () => {
    // Read on their own as well: the user edited during the restore, by the edit's refresh and by the catch-up.
    const own = [IN_TWO_SERVERS, EDITED, EDITED].map((i) => `branding-consent:user:${userId(i)}`);
    expect(consentReads.sort()).toEqual([...GUILDS.map((team) => `branding-consent:guild:${team.guildId}`), ...own].sort());
    // Their team's season comes before their own: the plans above were made with the teams.
    for (const i of TEAM_MEMBERS) expect(scheduler.plannedAt(userId(i))?.getTime(), `user ${i}`).toBeLessThan(NOW + 30 * DAY_MS);
  });

  it('plans an edit made during the restore from the edited record, not the listed copy', () => {
    expect(scheduler.plannedAt(userId(EDITED))?.toISOString()).toBe(iso(Date.parse(`2026-${monthDay(NOW + 5 * DAY_MS)}T00:00:00Z`)));
  });

  it('still catches up a user who needs a change, from a fresh read', async () => {
    const record = await services.schedules.get(userId(NEEDS_CHANGE));
    expect(record.lastRun).toMatchObject({ outcome: 'failed' });
    expect(record.lastRun?.detail).toMatchObject({ kind: 'image-missing' });
    expect(record.schedules.find((schedule) => schedule.kind === 'rotation')?.paused).toBe(true);
    expect(x.uploads).toHaveLength(0);
  });

  it('gives the event loop a turn at least every 50 ms', () => {
    expect(turns).toBeGreaterThan(1);
    expect(longestTurnMs).toBeLessThanOrEqual(50);
  });
});
