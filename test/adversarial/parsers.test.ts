/**
 * The worst inputs we could find for every parser and engine entry point a user's input reaches: each
 * synchronous call must use at most 50 ms of CPU (process.cpuUsage around the call), so that no command
 * can hold the event loop and make another user's command miss Discord's 3 s window. Each case runs a
 * few variants that miss the caches (another zone, another spelling) and the cheapest one counts, which
 * takes out noise from other processes without measuring a warm cache.
 */
import { describe, expect, it } from 'vitest';
import { countFires, nextFire, parseCron, previousFire, shortestGapSeconds } from '../../src/schedule/cron.js';
import {
  activeImageAt,
  checkMinimumInterval,
  createEvent,
  EARLIEST_YEAR,
  instantToZoned,
  latestAccepted,
  MAX_SCHEDULES,
  nextChangeAt,
  parseLocalDate,
  parseLocalDateTime,
  parseMonthDay,
  previewDate,
  ScheduleError,
  searchTimeZones,
  validateSchedule,
  validateTimeZone,
  zonedTimeToInstant,
  type Schedule,
  type UserSchedules,
} from '../../src/schedule/engine.js';
import { plannedChange } from '../../src/schedule/plan.js';
import type { ScheduleRecord } from '../../src/schedule/store.js';

const BUDGET_MS = 50;
const NOW = new Date('2026-11-30T12:00:00Z');
const LATEST = latestAccepted(NOW);
/**
 * Zones with daylight saving (an offset in January that differs from July's), in an order that starts
 * with odd rules (half-hour DST, Ramadan, midnight changes): each variant of a case takes the next one,
 * never used before in this file, so its caches are cold.
 */
const offsetIn = (zone: string, month: number) => new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).format(Date.UTC(2026, month, 1));
const DST_ZONES = [
  'America/Santiago',
  'Australia/Lord_Howe',
  'Africa/Casablanca',
  'America/Havana',
  'Pacific/Chatham',
  ...Intl.supportedValuesOf('timeZone').filter((zone) => offsetIn(zone, 0) !== offsetIn(zone, 6)),
];
let zoneCursor = 0;
const freshZone = () => DST_ZONES[zoneCursor++ % DST_ZONES.length]!;

/** CPU milliseconds (user + system) one call takes. */
function cpuMs(call: () => unknown): number {
  const start = process.cpuUsage();
  try {
    call();
  } catch (error) {
    if (!(error instanceof ScheduleError)) throw error; // a refusal is an answer; anything else is a bug
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** The cheapest of the variants: each must answer within the budget. */
function expectFast(name: string, variants: Array<() => unknown>): void {
  const costs = variants.map(cpuMs);
  expect(Math.min(...costs), `${name}: ${costs.map((cost) => cost.toFixed(1)).join(', ')} ms`).toBeLessThanOrEqual(BUDGET_MS);
}

const refusal = (call: () => unknown): ScheduleError => {
  try {
    call();
  } catch (error) {
    if (error instanceof ScheduleError) return error;
    throw error;
  }
  throw new Error('not refused');
};

/** The earliest date the engine accepts (EARLIEST_YEAR). */
const earliest = Date.UTC(EARLIEST_YEAR, 0, 1);
const created = (ms: number) => new Date(ms).toISOString();

describe('cron strings', () => {
  it('refuses an over-long expression before parsing it, without echoing it', () => {
    const long = `${'1,'.repeat(50_000)}1 * * * *`;
    expectFast('parseCron of 100 kB', [() => parseCron(long), () => parseCron(` ${long}`), () => parseCron(`${long} `)]);
    const error = refusal(() => parseCron(long));
    expect(error.kind).toBe('invalid-cron');
    expect(error.userMessage.length).toBeLessThan(200);
  });

  it('parses the densest expressions (every second: 86,400 times a day) and huge steps within the budget', () => {
    expectFast('dense', [() => parseCron('* * * * * *'), () => parseCron('*/1 * * * * *'), () => parseCron('0-59 0-59 0-23 * * *')]);
    expectFast('lists', [() => parseCron('0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29 * * * * *'), () => parseCron('59-0 23-0 31-1 12-1 7-0')]);
    expect(refusal(() => parseCron('*/99999999999999999999 * * * *')).userMessage).toMatch(/step .* at most 60/);
  });

  it('finds the next and previous fire of the sparsest expressions (Feb 29 on a Monday: once in 28 years) within the budget', () => {
    for (const expression of ['0 0 29 2 1', '0 0 29 2 mon', '59 23 29 2 1']) {
      const spec = parseCron(expression);
      expectFast(`nextFire ${expression}`, [() => nextFire(spec, freshZone(), earliest), () => nextFire(spec, freshZone(), Date.UTC(2045, 0, 1))]);
      expectFast(`previousFire ${expression}`, [() => previousFire(spec, freshZone(), LATEST.getTime()), () => previousFire(spec, freshZone(), Date.UTC(2043, 0, 1))]);
      expectFast(`shortestGapSeconds ${expression}`, [() => shortestGapSeconds(parseCron(` ${expression}`))]);
    }
    expectFast('shortestGapSeconds every second', [() => shortestGapSeconds(parseCron('* * * * * * '))]);
  });

  it('counts every-second fires from the earliest date to ten years ahead in zones with DST within the budget', () => {
    const spec = parseCron('* * * * * *');
    expectFast('countFires every second, earliest..latest', [
      () => countFires(spec, freshZone(), earliest, LATEST.getTime()),
      () => countFires(spec, freshZone(), earliest, LATEST.getTime()),
      () => countFires(spec, freshZone(), earliest, LATEST.getTime()),
    ]);
    const hourly = parseCron('0 * * * *');
    expectFast('countFires hourly', [() => countFires(hourly, freshZone(), earliest + 12_345, LATEST.getTime())]);
    // Right as well as fast: 36 years of seconds, with the DST changes counted.
    const utcCount = countFires(spec, 'UTC', earliest, Date.UTC(2036, 0, 1));
    expect(utcCount).toBe((Date.UTC(2036, 0, 1) - earliest) / 1000);
    expect(countFires(spec, 'Europe/Berlin', earliest, Date.UTC(2036, 0, 1))).toBe(utcCount - 16 * 3600); // an hour skipped each spring
  });
});

describe('zones', () => {
  it('refuses an over-long or unknown zone name quickly and never echoes a long one', () => {
    const long = 'Europe/'.padEnd(100_000, 'x');
    expectFast('validateTimeZone 100 kB', [() => validateTimeZone(long), () => validateTimeZone(`A${long}`)]);
    expect(refusal(() => validateTimeZone(long)).userMessage.length).toBeLessThan(200);
    expectFast('validateTimeZone unknown', [() => validateTimeZone('Mars/Olympus_Mons'), () => validateTimeZone('Europe/Berlinn')]);
    expectFast('searchTimeZones 100 kB', [() => searchTimeZones(long), () => searchTimeZones(' '.repeat(100_000))]);
  });

  it('converts at the extremes of the range and on DST edges within the budget', () => {
    expectFast('zonedTimeToInstant in a gap', [
      () => zonedTimeToInstant(freshZone(), { year: 2099, month: 3, day: 29, hour: 2, minute: 30 }),
      () => zonedTimeToInstant(freshZone(), { year: EARLIEST_YEAR, month: 10, day: 25, hour: 1, minute: 30 }),
    ]);
    expectFast('instantToZoned far ahead', [() => instantToZoned(freshZone(), new Date(Date.UTC(2099, 11, 31, 23, 59))), () => instantToZoned(freshZone(), new Date(earliest))]);
  });
});

describe('dates', () => {
  it('refuses dates outside 2020-01-01 .. 2099-12-31 and long strings quickly, with a clear sentence', () => {
    for (const parse of [parseLocalDate, parseLocalDateTime]) {
      expectFast(`${parse.name} 100 kB`, [() => parse('2026-12-24'.padEnd(100_000, '9')), () => parse('9'.repeat(100_000))]);
    }
    expect(refusal(() => parseLocalDate('9999-12-31', 'date')).userMessage).toBe('date "9999-12-31" is out of range: dates from 2020-01-01 to 2099-12-31 are supported.');
    expect(refusal(() => parseLocalDateTime('1899-01-01 00:00', 'at')).kind).toBe('invalid-date');
    expectFast('parseMonthDay 100 kB', [() => parseMonthDay('12-01'.padEnd(100_000, '1'))]);
  });

  it('refuses a preview more than ten years ahead, and previews ten years ahead within the budget', () => {
    const state: UserSchedules = { timezone: 'UTC', schedules: [] };
    expect(refusal(() => previewDate(state, '2099-12-31', NOW)).userMessage).toBe(`date is too far ahead: schedules reach at most 10 years ahead (until ${LATEST.toISOString().slice(0, 10)}).`);
  });
});

/**
 * The heaviest schedules a user can have: MAX_SCHEDULES of them, every kind, dates anywhere commands
 * accept them (events pinned from the earliest date to ten years ahead), every-second rotations made at
 * the earliest date, a sparse rotation, one-shot events.
 */
function heavyUser(zone: string, salt: number): ScheduleRecord {
  const schedules: Schedule[] = [];
  const images = Array.from({ length: 50 }, (_, i) => `img${i}`);
  const span = LATEST.getTime() - earliest;
  for (let i = 0; schedules.length < MAX_SCHEDULES - 4; i++) {
    const month = String((i % 12) + 1).padStart(2, '0');
    schedules.push({ id: `s${i}`, kind: 'season', image: 'same', from: `${month}-01`, to: `${month}-28`, priority: i % 3, createdAt: created(earliest + i) });
    const at = earliest + Math.floor((span * i) / 25);
    schedules.push({ id: `e${i}`, kind: 'event', image: 'same', at: '', atUtc: created(at), untilUtc: created(LATEST.getTime()), createdAt: created(earliest + i) });
  }
  schedules.push({ id: 'r1', kind: 'rotation', images, every: `* * * * * *${' '.repeat(salt)}`, order: 'sequence', createdAt: created(earliest) });
  schedules.push({ id: 'r2', kind: 'rotation', images: ['a', 'a', 'b'], every: '0 0 29 2 1', order: 'sequence', createdAt: created(earliest + 1) });
  schedules.push({ id: 'o1', kind: 'event', image: 'oneshot', at: '', atUtc: created(earliest), createdAt: created(earliest) });
  schedules.push({ id: 'o2', kind: 'event', image: 'oneshot2', at: '', atUtc: created(Date.UTC(2026, 2, 29, 1, 30)), createdAt: created(earliest) });
  return { timezone: zone, schedules, notify: { mode: 'dm' }, defaultImage: 'base', applied: { image: 'base', at: NOW.toISOString() } };
}

describe('the engine', () => {
  it('answers which image is active, the next change, a preview and the planned change for the heaviest user within the budget', () => {
    let salt = 0;
    const variant = () => heavyUser(freshZone(), salt++);
    expectFast('activeImageAt now', [() => activeImageAt(variant(), NOW), () => activeImageAt(variant(), NOW)]);
    expectFast('activeImageAt ten years ahead', [() => activeImageAt(variant(), LATEST), () => activeImageAt(variant(), LATEST), () => activeImageAt(variant(), LATEST)]);
    expectFast('nextChangeAt', [() => nextChangeAt(variant(), NOW), () => nextChangeAt(variant(), new Date(earliest)), () => nextChangeAt(variant(), LATEST)]);
    const lastDay = LATEST.toISOString().slice(0, 10);
    expectFast('previewDate ten years ahead', [() => previewDate(variant(), lastDay, NOW), () => previewDate(variant(), '2020-01-01', NOW)]);
    expectFast('plannedChange', [() => plannedChange(variant(), [], NOW, 15 * 60_000), () => plannedChange(variant(), [{ guildId: 'g', seasons: [] }], NOW, 0)]);
  });

  it('walks a whole 400-day horizon of boundaries that do not change the image within the budget', () => {
    // 50 seasons with the same image: every boundary is looked at, none is a change.
    const quiet = (zone: string): UserSchedules => ({
      timezone: zone,
      schedules: Array.from({ length: MAX_SCHEDULES }, (_, i) => ({ id: `q${i}`, kind: 'season' as const, image: 'same', from: `${String((i % 12) + 1).padStart(2, '0')}-${String((i % 27) + 1).padStart(2, '0')}`, to: '12-31', createdAt: created(earliest) })),
    });
    expectFast('nextChangeAt quiet', [() => nextChangeAt(quiet(freshZone()), NOW), () => nextChangeAt(quiet(freshZone()), NOW)]);
  });

  it('refuses too many images, too long names and out-of-range creation dates quickly', () => {
    const many = { id: 'r', kind: 'rotation' as const, images: Array.from({ length: 100_000 }, (_, i) => `i${i}`), every: 'daily', order: 'sequence' as const, createdAt: NOW.toISOString() };
    expectFast('validateSchedule 100,000 images', [() => validateSchedule(many), () => validateSchedule({ ...many, every: 'weekly' })]);
    expect(refusal(() => validateSchedule(many)).userMessage).toBe('A rotation has at most 50 images; that one has 100000.');
    expect(refusal(() => validateSchedule({ ...many, images: ['x'.repeat(100_000)] })).kind).toBe('too-many');
    expect(refusal(() => validateSchedule({ ...many, images: ['a'], createdAt: '9999-12-31T00:00:00Z' })).kind).toBe('invalid-date');
    expectFast('checkMinimumInterval every second', [() => checkMinimumInterval({ ...many, images: ['a', 'b'], every: '* * * * * *' }), () => checkMinimumInterval({ ...many, images: ['a', 'b'], every: '0 0 29 2 1' })]);
  });

  it('creates events at the edges of the range within the budget, refusing those too far ahead', () => {
    const input = (at: string, until?: string) => ({ id: 'e', createdAt: NOW.toISOString(), image: 'x', at, ...(until ? { until } : {}) });
    expectFast('createEvent', [() => createEvent(input('2020-01-01 00:00', '2036-11-30 11:00'), freshZone(), NOW), () => createEvent(input('2099-12-31 23:59'), freshZone(), NOW)]);
    expect(refusal(() => createEvent(input('2099-12-31 23:59'), 'UTC', NOW)).userMessage).toMatch(/^at is too far ahead: schedules reach at most 10 years ahead/);
  });
});
