import cron from 'node-cron';
import { describe, expect, it } from 'vitest';
import { changeWords, ruleWords } from '../../src/i18n/schedule-words.js';
import {
  activeImageAt,
  checkMinimumInterval,
  createEvent,
  cronFiresAfter,
  eventTimes,
  formatInZone,
  instantToZoned,
  listTimeZones,
  nextChangeAt,
  nextRotationImage,
  parseLocalDateTime,
  parseMonthDay,
  pinEvents,
  previewDate,
  previousRotationFire,
  ScheduleError,
  searchTimeZones,
  seasonBoundaries,
  validateCron,
  validateSchedule,
  validateTimeZone,
  zonedTimeToInstant,
  type EventSchedule,
  type RotationSchedule,
  type Schedule,
  type SeasonSchedule,
  type UserSchedules,
} from '../../src/schedule/engine.js';
import { countFires, nextFire, parseCron } from '../../src/schedule/cron.js';
import { plannedChange } from '../../src/schedule/plan.js';
import type { ScheduleRecord } from '../../src/schedule/store.js';
import { seededRandom } from '../support/seeded-random.js';

const utc = (iso: string) => new Date(iso.endsWith('Z') ? iso : `${iso}Z`);
const CREATED = '2026-01-01T00:00:00.000Z';

function season(id: string, image: string, from: string, to: string, extra: Partial<SeasonSchedule> = {}): SeasonSchedule {
  return { kind: 'season', id, image, from, to, createdAt: CREATED, ...extra };
}
function rotation(id: string, images: string[], every: string, extra: Partial<RotationSchedule> = {}): RotationSchedule {
  return { kind: 'rotation', id, images, every, order: 'sequence', createdAt: CREATED, ...extra };
}
function event(id: string, image: string, at: string, until?: string, extra: Partial<EventSchedule> = {}): EventSchedule {
  return { kind: 'event', id, image, at, ...(until === undefined ? {} : { until }), createdAt: CREATED, ...extra };
}
function user(schedules: Schedule[], extra: Partial<UserSchedules> = {}): UserSchedules {
  return { timezone: 'UTC', schedules, ...extra };
}

/** Which image, and from which kind of rule, at an ISO instant. */
function shown(state: UserSchedules, iso: string): string {
  const { image, source } = activeImageAt(state, utc(iso));
  return `${image ?? '-'} (${source?.kind ?? 'none'})`;
}

function refusal(fn: () => unknown): { kind: string; message: string } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleError);
    const { kind, userMessage } = error as ScheduleError;
    return { kind, message: userMessage };
  }
  throw new Error('expected a ScheduleError');
}


describe('time zones', () => {
  it('accepts IANA names in any case and stores the listed spelling', () => {
    expect(validateTimeZone('europe/berlin')).toBe('Europe/Berlin');
    expect(validateTimeZone(' UTC ')).toBe('UTC');
    expect(validateTimeZone('US/Eastern')).toBe('US/Eastern'); // an alias Intl knows
  });

  it('refuses names Intl does not know, with a sentence', () => {
    for (const bad of ['Mars/Olympus_Mons', '', '+05:30', 'Europe/Berlinn']) {
      expect(refusal(() => validateTimeZone(bad))).toEqual({
        kind: 'invalid-timezone',
        message: `"${bad.trim()}" is not a time zone I know. Pick one from the list, like Europe/Berlin or America/New_York.`,
      });
    }
    expect(refusal(() => activeImageAt(user([], { timezone: 'Nowhere/Land' }), new Date())).kind).toBe('invalid-timezone');
  });

  it('lists every zone with UTC first and searches them for autocomplete', () => {
    const zones = listTimeZones();
    expect(zones[0]).toBe('UTC');
    expect(zones).toContain('America/New_York');
    expect(zones).toContain('Asia/Tokyo');
    expect(new Set(zones).size).toBe(zones.length);
    expect(searchTimeZones('new york')).toEqual(['America/New_York']);
    expect(searchTimeZones('berlin')[0]).toBe('Europe/Berlin');
    expect(searchTimeZones('america/', 5)).toHaveLength(5);
    expect(searchTimeZones('')).toHaveLength(25);
    // Names or cities starting with the query come before names merely containing it.
    expect(searchTimeZones('ton', 3)).toEqual(['Pacific/Tongatapu', 'America/Creston', 'America/Edmonton']);
  });
});

describe('local wall-clock time ⇄ instants', () => {
  const at = (zone: string, y: number, mo: number, d: number, h: number, mi: number) =>
    zonedTimeToInstant(zone, { year: y, month: mo, day: d, hour: h, minute: mi }).toISOString();

  it('converts ordinary times in zones east and west of UTC', () => {
    expect(at('Asia/Tokyo', 2026, 12, 1, 0, 0)).toBe('2026-11-30T15:00:00.000Z');
    expect(at('America/Los_Angeles', 2026, 7, 4, 0, 0)).toBe('2026-07-04T07:00:00.000Z');
    expect(at('America/Los_Angeles', 2026, 1, 4, 0, 0)).toBe('2026-01-04T08:00:00.000Z');
    expect(at('Asia/Kolkata', 2026, 5, 1, 9, 0)).toBe('2026-05-01T03:30:00.000Z');
    expect(at('UTC', 2028, 2, 29, 23, 59)).toBe('2028-02-29T23:59:00.000Z');
  });

  it('moves a time inside a spring-forward gap to the first instant after the gap', () => {
    expect(at('Europe/Berlin', 2026, 3, 29, 2, 30)).toBe('2026-03-29T01:00:00.000Z'); // 03:00 CEST
    expect(at('Europe/Berlin', 2026, 3, 29, 2, 0)).toBe('2026-03-29T01:00:00.000Z');
    expect(at('Europe/Berlin', 2026, 3, 29, 3, 0)).toBe('2026-03-29T01:00:00.000Z');
    expect(at('Europe/Berlin', 2026, 3, 29, 1, 59)).toBe('2026-03-29T00:59:00.000Z');
    expect(at('America/New_York', 2026, 3, 8, 2, 30)).toBe('2026-03-08T07:00:00.000Z'); // 03:00 EDT
    expect(at('Australia/Sydney', 2026, 10, 4, 2, 30)).toBe('2026-10-03T16:00:00.000Z'); // 03:00 AEDT
    // Chile skips midnight itself.
    expect(at('America/Santiago', 2026, 9, 6, 0, 0)).toBe('2026-09-06T04:00:00.000Z'); // 01:00 -03
    const local = instantToZoned('Europe/Berlin', new Date('2026-03-29T01:00:00.000Z'));
    expect([local.hour, local.minute, local.offsetMinutes]).toEqual([3, 0, 120]);
  });

  it('maps a time repeated by a fall-back change to its first occurrence', () => {
    expect(at('America/New_York', 2026, 11, 1, 1, 30)).toBe('2026-11-01T05:30:00.000Z'); // EDT, not 06:30Z EST
    expect(at('Europe/Berlin', 2026, 10, 25, 2, 30)).toBe('2026-10-25T00:30:00.000Z'); // CEST, not 01:30Z CET
    expect(at('Australia/Sydney', 2026, 4, 5, 2, 30)).toBe('2026-04-04T15:30:00.000Z'); // AEDT, not 16:30Z AEST
    expect(at('America/New_York', 2026, 11, 1, 2, 0)).toBe('2026-11-01T07:00:00.000Z'); // after the overlap: EST
  });

  it('round-trips every hour of a year except the second pass through a repeated hour', () => {
    for (const zone of ['America/New_York', 'Europe/Berlin', 'Australia/Sydney']) {
      const mismatches: string[] = [];
      for (let ms = Date.UTC(2026, 0, 1); ms < Date.UTC(2027, 0, 1); ms += 30 * 60_000) {
        const local = instantToZoned(zone, new Date(ms));
        const back = zonedTimeToInstant(zone, local).getTime();
        if (back !== ms) {
          mismatches.push(new Date(ms).toISOString());
          expect(back).toBe(ms - 3_600_000); // the first occurrence, one hour earlier
        }
      }
      expect(mismatches, zone).toHaveLength(2); // one repeated hour, sampled every 30 minutes
    }
  });

  it('formats instants on the user’s wall clock', () => {
    expect(formatInZone(new Date('2026-11-30T15:00:00Z'), 'Asia/Tokyo')).toBe('Dec 1 00:00');
    expect(formatInZone(new Date('2026-11-30T15:00:00Z'), 'UTC')).toBe('Nov 30 15:00');
    expect(formatInZone(new Date('2027-01-01T05:00:00Z'), 'America/New_York', { year: true })).toBe('Jan 1, 2027 00:00');
  });
});

describe('parsing what users type', () => {
  it('reads month-days, including Feb 29', () => {
    expect(parseMonthDay('12-01')).toEqual({ month: 12, day: 1 });
    expect(parseMonthDay('2-29')).toEqual({ month: 2, day: 29 });
    expect(refusal(() => parseMonthDay('1201', 'from'))).toEqual({ kind: 'invalid-date', message: 'from must look like 12-01 (month-day).' });
    expect(refusal(() => parseMonthDay('Dec 1', 'to')).message).toBe('to must look like 12-01 (month-day).');
    expect(refusal(() => parseMonthDay('02-30', 'from')).message).toBe('from "02-30" is not a day of the year; it must look like 12-01 (month-day).');
    expect(refusal(() => parseMonthDay('13-01', 'from')).kind).toBe('invalid-date');
    expect(refusal(() => parseMonthDay('04-31', 'to')).kind).toBe('invalid-date');
  });

  it('reads local date-times and refuses impossible ones', () => {
    expect(parseLocalDateTime('2026-12-24 18:00')).toEqual({ year: 2026, month: 12, day: 24, hour: 18, minute: 0 });
    expect(parseLocalDateTime('2028-02-29T07:05')).toEqual({ year: 2028, month: 2, day: 29, hour: 7, minute: 5 });
    expect(refusal(() => parseLocalDateTime('24.12.2026 18:00', 'at'))).toEqual({
      kind: 'invalid-date',
      message: 'at must look like 2026-12-24 18:00 (year-month-day hour:minute).',
    });
    expect(refusal(() => parseLocalDateTime('2027-02-29 10:00', 'at')).message).toBe(
      'at "2027-02-29 10:00" is not a real date and time; it must look like 2026-12-24 18:00.',
    );
    expect(refusal(() => parseLocalDateTime('2026-12-24 24:00', 'until')).kind).toBe('invalid-date');
  });

  it('validates whole schedules with the sentence a user should see', () => {
    expect(refusal(() => validateSchedule(rotation('r', [], 'daily')))).toEqual({ kind: 'empty-rotation', message: 'A rotation needs at least one image.' });
    expect(refusal(() => validateSchedule(event('e', 'x', '2026-12-24 18:00', '2026-12-24 17:00')))).toEqual({
      kind: 'invalid-date',
      message: 'until must be after at: the event has to end after it starts.',
    });
    expect(refusal(() => validateSchedule(season('s', 'x', '12-1', '2-30'))).message).toContain('to "2-30"');
    expect(refusal(() => validateSchedule(season('s', 'x', '12-01', '02-28', { priority: Number.NaN }))).kind).toBe('invalid-priority');
    expect(refusal(() => validateSchedule(rotation('r', ['a'], '0 0 * *'))).kind).toBe('invalid-cron');
    expect(() => validateSchedule(event('e', 'x', '2026-12-24 18:00', '2026-12-24 18:01'), 'Europe/Berlin')).not.toThrow();
  });
});

describe('cron expressions', () => {
  it('accepts what node-cron accepts in the supported syntax', () => {
    for (const expression of [
      '*/15 * * * *',
      '0 9 * * mon-fri',
      '0 9 * * MONDAY',
      '0 0 1 jan,jul *',
      '30 2 * * *',
      '0 22-2 * * *',
      '0 0-23/6 * * *',
      '*/10 * * * * *',
      '0 0 * * 7',
      '0 0 * * 5-7',
      '0 0 * * sat-mon',
      '0 0 29 2 *',
      '0  12  *  *  *',
    ]) {
      expect(() => validateCron(expression), expression).not.toThrow();
      expect(cron.validate(expression), expression).toBe(true);
    }
  });

  it('says which field is wrong', () => {
    const cases: Array<[string, string]> = [
      ['0 25 * * *', 'The hour field "25" is out of range (0-23).'],
      ['60 * * * *', 'The minute field "60" is out of range (0-59).'],
      ['0 0 32 * *', 'The day of month field "32" is out of range (1-31).'],
      ['0 0 0 * *', 'The day of month field "0" is out of range (1-31).'],
      ['0 0 1 13 *', 'The month field "13" is out of range (1-12).'],
      ['0 0 * * 8', 'The day of week field "8" is out of range (0-7).'],
      ['61 0 0 * * *', 'The second field "61" is out of range (0-59).'],
      ['0 1,25 * * *', 'The hour field "1,25" is out of range (0-23).'],
      ['0 0 * * funday', 'The day of week field "funday" is not valid; use a value like 1 or mon, or *, */n, a-b, a-b/n or a list a,b.'],
      ['0 0 1 smarch *', 'The month field "smarch" is not valid; use a value like 12 or dec, or *, */n, a-b, a-b/n or a list a,b.'],
      ['x * * * *', 'The minute field "x" is not valid; use a value like 30, or *, */n, a-b, a-b/n or a list a,b.'],
      ['5/15 * * * *', 'The minute field "5/15" is not valid; use a value like 30, or *, */n, a-b, a-b/n or a list a,b.'],
      ['*/0 * * * *', 'The minute field "*/0" has a step of 0; the step must be at least 1.'],
      ['0 0 1,,2 * *', 'The day of month field "1,,2" is not valid; use a value like 1, or *, */n, a-b, a-b/n or a list a,b.'],
      ['0 0 30 2 *', 'The day of month field "30" never happens in the month field "2".'],
      ['0 0 * *', 'A cron expression has 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first; "0 0 * *" has 4.'],
      ['', 'A cron expression has 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first; "" has 0.'],
      ['0 0 0 0 * * *', 'A cron expression has 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first; "0 0 0 0 * * *" has 7.'],
    ];
    for (const [expression, message] of cases) {
      expect(refusal(() => validateCron(expression)), expression).toEqual({ kind: 'invalid-cron', message });
      expect(cron.validate(expression), `node-cron agrees "${expression}" is invalid`).toBe(false);
    }
  });

  it('refuses node-cron extensions it does not evaluate, with a sentence', () => {
    expect(refusal(() => validateCron('0 0 L * *')).message).toBe(
      'The day of month field "L" uses L, W, # or ?, which schedules don\'t support; use numbers, *, */n, a-b, a-b/n or a list a,b.',
    );
    expect(refusal(() => validateCron('0 0 * * 1#2')).kind).toBe('invalid-cron');
    expect(refusal(() => validateCron('@daily')).message).toBe(
      '"@daily" is a nickname schedules don\'t support; use hourly, daily, weekly or a cron expression like 0 9 * * 1.',
    );
  });

  it('fires on the wall clock of the zone, with names, ranges that wrap, and steps', () => {
    const local = (dates: Date[], zone: string) =>
      dates.map((date) => {
        const t = instantToZoned(zone, date);
        return `${t.month}-${t.day} ${t.weekday} ${t.hour}:${String(t.minute).padStart(2, '0')}`;
      });
    // 2026-01-02 is a Friday.
    expect(local(cronFiresAfter('0 9 * * mon-fri', 'Asia/Tokyo', utc('2025-12-31T12:00'), 3), 'Asia/Tokyo')).toEqual(['1-1 4 9:00', '1-2 5 9:00', '1-5 1 9:00']);
    // Strictly after: a fire exactly at `after` is not the next one (Jan 1 09:00 JST = 00:00Z).
    expect(local(cronFiresAfter('0 9 * * mon-fri', 'Asia/Tokyo', utc('2026-01-01T00:00'), 1), 'Asia/Tokyo')).toEqual(['1-2 5 9:00']);
    expect(local(cronFiresAfter('0 22-1 * * *', 'UTC', utc('2026-01-01T12:00'), 5), 'UTC')).toEqual(['1-1 4 22:00', '1-1 4 23:00', '1-2 5 0:00', '1-2 5 1:00', '1-2 5 22:00']);
    expect(local(cronFiresAfter('0 0 * * sat-mon', 'UTC', utc('2026-01-01T00:00'), 4), 'UTC')).toEqual(['1-3 6 0:00', '1-4 0 0:00', '1-5 1 0:00', '1-10 6 0:00']);
    expect(local(cronFiresAfter('weekly', 'Europe/Berlin', utc('2026-01-01T00:00'), 2), 'Europe/Berlin')).toEqual(['1-5 1 0:00', '1-12 1 0:00']);
    expect(cronFiresAfter('0 0 29 2 *', 'UTC', utc('2026-01-01T00:00'), 2).map((d) => d.toISOString())).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
  });

  it('fires exactly when node-cron’s own matcher matches, outside DST changes', () => {
    const cases: Array<[string, string]> = [
      ['0 9 * * mon-fri', 'Asia/Tokyo'],
      ['0 22-2 * * *', 'UTC'],
      ['0 0 13 * 5', 'America/New_York'], // Friday the 13th: both day fields must match
      ['*/20 8-10 * * sat,sun', 'Europe/Berlin'],
      ['15 */6 1-15/7 * *', 'UTC'],
      ['0 12 * feb 1-3', 'Australia/Sydney'],
    ];
    const start = utc('2026-02-09T00:00');
    const end = utc('2026-02-17T00:00');
    for (const [expression, zone] of cases) {
      const ours = new Set(
        cronFiresAfter(expression, zone, new Date(start.getTime() - 1), 1000, new Date(end.getTime() - 1)).map((fire) => fire.getTime()),
      );
      const task = cron.createTask(expression, () => undefined, { timezone: zone });
      const theirs = new Set<number>();
      // Every case fires on multiples of 5 minutes; node-cron's matcher is slow, so probe only those.
      for (let ms = start.getTime(); ms < end.getTime(); ms += 5 * 60_000) if (task.match(new Date(ms))) theirs.add(ms);
      void task.destroy();
      expect(theirs.size, expression).toBeGreaterThan(0);
      expect([...ours].every((ms) => ms % (5 * 60_000) === 0), expression).toBe(true);
      expect([...ours].sort(), `${expression} in ${zone}`).toEqual([...theirs].sort());
    }
  });

  it('fires a daily 02:30 once on spring-forward days, at the end of the gap', () => {
    expect(cronFiresAfter('30 2 * * *', 'Europe/Berlin', utc('2026-03-28T00:00'), 3).map((d) => d.toISOString())).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
    expect(cronFiresAfter('30 2 * * *', 'America/New_York', utc('2026-03-07T00:00'), 3).map((d) => d.toISOString())).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:00:00.000Z', // 03:00 EDT
      '2026-03-09T06:30:00.000Z',
    ]);
    // 02:00, 02:30 and 03:00 all land on 03:00 CEST: one fire, not three.
    expect(cronFiresAfter('0,30 2,3 * * *', 'Europe/Berlin', utc('2026-03-29T00:00'), 3).map((d) => d.toISOString())).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:00:00.000Z',
    ]);
  });

  it('fires a time repeated on fall-back days once, at its first occurrence', () => {
    expect(cronFiresAfter('30 2 * * *', 'Europe/Berlin', utc('2026-10-24T00:00'), 3).map((d) => d.toISOString())).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z', // 02:30 CEST; not again at 02:30 CET
      '2026-10-26T01:30:00.000Z',
    ]);
    expect(cronFiresAfter('30 1 * * *', 'America/New_York', utc('2026-10-31T00:00'), 3).map((d) => d.toISOString())).toEqual([
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z', // 01:30 EDT; not 06:30Z
      '2026-11-02T06:30:00.000Z',
    ]);
    expect(cronFiresAfter('30 2 * * *', 'Australia/Sydney', utc('2026-04-04T00:00'), 2).map((d) => d.toISOString())).toEqual([
      '2026-04-04T15:30:00.000Z', // 02:30 AEDT on Apr 5
      '2026-04-05T16:30:00.000Z',
    ]);
  });
});

describe('seasons', () => {
  const winter = season('winter', 'snow', '12-01', '02-28');

  it('wraps the new year', () => {
    const state = user([winter], { defaultImage: 'plain' });
    expect(shown(state, '2026-12-31T12:00')).toBe('snow (season)');
    expect(shown(state, '2027-01-15T12:00')).toBe('snow (season)');
    expect(shown(state, '2027-02-28T23:59:59')).toBe('snow (season)');
    expect(shown(state, '2027-03-01T00:00')).toBe('plain (default)');
    expect(shown(state, '2026-11-30T23:59:59')).toBe('plain (default)');
    expect(shown(state, '2028-02-29T12:00')).toBe('plain (default)'); // to 02-28 excludes the leap day
  });

  it('uses the default when no season matches, and nothing when there is no default', () => {
    expect(activeImageAt(user([winter], { defaultImage: 'plain' }), utc('2026-07-01T00:00'))).toEqual({ image: 'plain', source: { kind: 'default' } });
    expect(activeImageAt(user([winter]), utc('2026-07-01T00:00'))).toEqual({ image: undefined, source: undefined });
    expect(activeImageAt(user([winter]), utc('2026-12-01T00:00'))).toEqual({ image: 'snow', source: { kind: 'season', id: 'winter' } });
  });

  it('starts at 00:00 local on the first day and ends at 00:00 local on the day after the last (Tokyo)', () => {
    const state = user([winter], { timezone: 'Asia/Tokyo', defaultImage: 'plain' });
    expect(shown(state, '2026-11-30T14:59:59.999')).toBe('plain (default)');
    expect(shown(state, '2026-11-30T15:00:00')).toBe('snow (season)'); // Dec 1 00:00 JST
    expect(shown(state, '2027-02-28T14:59:59.999')).toBe('snow (season)'); // Feb 28 23:59:59 JST
    expect(shown(state, '2027-02-28T15:00:00')).toBe('plain (default)'); // Mar 1 00:00 JST
    expect(seasonBoundaries(winter, 'Asia/Tokyo', 2026)).toEqual({ start: utc('2026-11-30T15:00'), end: utc('2027-02-28T15:00') });
  });

  it('starts and ends at local midnight in Los Angeles', () => {
    const july4 = season('july4', 'flag', '07-04', '07-04');
    const state = user([july4], { timezone: 'America/Los_Angeles', defaultImage: 'plain' });
    expect(seasonBoundaries(july4, 'America/Los_Angeles', 2026)).toEqual({ start: utc('2026-07-04T07:00'), end: utc('2026-07-05T07:00') });
    expect(shown(state, '2026-07-04T06:59:59.999')).toBe('plain (default)');
    expect(shown(state, '2026-07-04T07:00')).toBe('flag (season)');
    expect(shown(state, '2026-07-05T06:59:59.999')).toBe('flag (season)');
    expect(shown(state, '2026-07-05T07:00')).toBe('plain (default)');
    const change = nextChangeAt(state, utc('2026-06-01T00:00'));
    expect(change).toEqual({ at: utc('2026-07-04T07:00'), image: 'flag', source: { kind: 'season', id: 'july4' }, pickedAtRandom: false });
    expect(changeWords('en-US', change!, 'America/Los_Angeles')).toBe('Jul 4 00:00 → flag');
  });

  it('starts at the right instant on DST days', () => {
    // Berlin springs forward on 2026-03-29: that day has 23 hours.
    const springDay = season('spring', 'blossom', '03-29', '03-29');
    expect(seasonBoundaries(springDay, 'Europe/Berlin', 2026)).toEqual({ start: utc('2026-03-28T23:00'), end: utc('2026-03-29T22:00') });
    // New York falls back on 2026-11-01: that day has 25 hours.
    const fallDay = season('fall', 'leaves', '11-01', '11-01');
    expect(seasonBoundaries(fallDay, 'America/New_York', 2026)).toEqual({ start: utc('2026-11-01T04:00'), end: utc('2026-11-02T05:00') });
    // Santiago skips 00:00 on 2026-09-06: the season starts when that day does, at 01:00 local.
    const chile = season('chile', 'flowers', '09-06', '09-30');
    const state = user([chile], { timezone: 'America/Santiago', defaultImage: 'plain' });
    expect(seasonBoundaries(chile, 'America/Santiago', 2026)?.start).toEqual(utc('2026-09-06T04:00'));
    expect(shown(state, '2026-09-06T03:59:59.999')).toBe('plain (default)');
    expect(shown(state, '2026-09-06T04:00')).toBe('flowers (season)');
    expect(nextChangeAt(state, utc('2026-09-01T00:00'))?.at).toEqual(utc('2026-09-06T04:00'));
  });

  it('handles a leap-day season: only in leap years', () => {
    const leap = season('leap', 'frog', '02-29', '02-29');
    const state = user([leap], { defaultImage: 'plain' });
    expect(shown(state, '2028-02-29T00:00')).toBe('frog (season)');
    expect(shown(state, '2028-02-29T23:59:59')).toBe('frog (season)');
    expect(shown(state, '2028-02-28T23:59:59')).toBe('plain (default)');
    expect(shown(state, '2028-03-01T00:00')).toBe('plain (default)');
    // 2027 has no Feb 29: the season does not happen at all.
    expect(shown(state, '2027-02-28T12:00')).toBe('plain (default)');
    expect(shown(state, '2027-03-01T12:00')).toBe('plain (default)');
    expect(seasonBoundaries(leap, 'UTC', 2027)).toBeUndefined();
    expect(seasonBoundaries(leap, 'UTC', 2028)).toEqual({ start: utc('2028-02-29T00:00'), end: utc('2028-03-01T00:00') });
    // It is more than 400 days away from March 2026.
    expect(nextChangeAt(state, utc('2026-03-01T00:00'))).toBeUndefined();
    expect(nextChangeAt(state, utc('2026-03-01T00:00'), { horizonDays: 800 })?.at).toEqual(utc('2028-02-29T00:00'));
  });

  it('moves a 02-29 start to 03-01 and a 02-29 end to 02-28 in common years', () => {
    const fromLeap = season('from', 'a', '02-29', '03-10');
    const toLeap = season('to', 'b', '02-01', '02-29');
    expect(seasonBoundaries(fromLeap, 'UTC', 2027)).toEqual({ start: utc('2027-03-01T00:00'), end: utc('2027-03-11T00:00') });
    expect(seasonBoundaries(fromLeap, 'UTC', 2028)).toEqual({ start: utc('2028-02-29T00:00'), end: utc('2028-03-11T00:00') });
    expect(seasonBoundaries(toLeap, 'UTC', 2027)).toEqual({ start: utc('2027-02-01T00:00'), end: utc('2027-03-01T00:00') });
    expect(seasonBoundaries(toLeap, 'UTC', 2028)).toEqual({ start: utc('2028-02-01T00:00'), end: utc('2028-03-01T00:00') });
    expect(shown(user([fromLeap], { defaultImage: 'plain' }), '2027-02-28T12:00')).toBe('plain (default)');
    expect(shown(user([fromLeap], { defaultImage: 'plain' }), '2027-03-01T00:00')).toBe('a (season)');
    expect(shown(user([toLeap], { defaultImage: 'plain' }), '2027-02-28T23:59')).toBe('b (season)');
    expect(shown(user([toLeap], { defaultImage: 'plain' }), '2028-02-29T23:59')).toBe('b (season)');
    // A wrapping season to 02-29 ends on Feb 28 in common years.
    const wrap = season('wrap', 'c', '12-01', '02-29');
    expect(seasonBoundaries(wrap, 'UTC', 2026)?.end).toEqual(utc('2027-03-01T00:00'));
    expect(seasonBoundaries(wrap, 'UTC', 2027)?.end).toEqual(utc('2028-03-01T00:00'));
    expect(shown(user([wrap]), '2028-02-29T12:00')).toBe('c (season)');
  });

  it('lets the higher priority win, then the one added later', () => {
    const xmas = season('xmas', 'tree', '12-20', '12-26', { priority: 5 });
    const older = season('older', 'old-snow', '12-01', '02-28', { createdAt: '2025-01-01T00:00:00Z' });
    const newer = season('newer', 'new-snow', '12-01', '02-28', { createdAt: '2025-06-01T00:00:00Z' });
    // List order does not matter: the later-added wins a tie.
    const state = user([newer, xmas, older]);
    expect(shown(state, '2026-12-24T12:00')).toBe('tree (season)');
    expect(shown(state, '2026-12-10T12:00')).toBe('new-snow (season)');
    expect(shown(user([older, newer]), '2026-12-10T12:00')).toBe('new-snow (season)');
    const loud = season('loud', 'loud', '12-01', '02-28', { priority: 1, createdAt: '2024-01-01T00:00:00Z' });
    expect(shown(user([newer, loud]), '2027-01-10T12:00')).toBe('loud (season)');
    // After xmas the lower-priority season shows again, at local midnight.
    expect(nextChangeAt(state, utc('2026-12-24T12:00'))).toMatchObject({ at: utc('2026-12-27T00:00'), image: 'new-snow' });
  });
});

describe('rotations', () => {
  it('shows images in sequence by counting fires since it was created', () => {
    const hourly = rotation('r', ['a', 'b', 'c'], 'hourly', { createdAt: '2026-01-01T00:10:00Z' });
    const state = user([hourly]);
    expect(shown(state, '2026-01-01T00:10')).toBe('a (rotation)');
    expect(shown(state, '2026-01-01T00:59:59')).toBe('a (rotation)');
    expect(shown(state, '2026-01-01T01:00')).toBe('b (rotation)');
    expect(shown(state, '2026-01-01T02:59')).toBe('c (rotation)');
    expect(shown(state, '2026-01-01T03:00')).toBe('a (rotation)');
    // 8760 fires later (a year of hours), 8760 % 3 = 0: back to "a".
    expect(shown(state, '2027-01-01T00:30')).toBe('a (rotation)');
    expect(shown(state, '2027-01-01T01:00')).toBe('b (rotation)');
    // The stored state does not matter for a sequence: every process derives the same image.
    expect(shown({ ...state, rotationState: { r: { current: 'c' } } }, '2026-01-01T01:30')).toBe('b (rotation)');
    expect(nextChangeAt(state, utc('2026-01-01T00:30'))).toEqual({ at: utc('2026-01-01T01:00'), image: 'b', source: { kind: 'rotation', id: 'r' }, pickedAtRandom: false });
    // Before it was created it shows nothing.
    expect(shown(state, '2026-01-01T00:09')).toBe('- (none)');
  });

  it('fires a daily 02:30 rotation once on the DST day in Berlin and New York', () => {
    const berlin = user([rotation('r', ['a', 'b'], '30 2 * * *', { createdAt: '2026-03-27T12:00:00Z' })], { timezone: 'Europe/Berlin' });
    const chain: string[] = [];
    let after = utc('2026-03-27T12:00');
    for (let step = 0; step < 3; step += 1) {
      const change = nextChangeAt(berlin, after)!;
      chain.push(`${change.at.toISOString()} ${change.image}`);
      after = change.at;
    }
    expect(chain).toEqual(['2026-03-28T01:30:00.000Z b', '2026-03-29T01:00:00.000Z a', '2026-03-30T00:30:00.000Z b']);
    expect(shown(berlin, '2026-03-29T21:00')).toBe('a (rotation)'); // one fire on the 29th, not two

    const newYork = user([rotation('r', ['a', 'b'], '30 1 * * *', { createdAt: '2026-10-31T12:00:00Z' })], { timezone: 'America/New_York' });
    expect(nextChangeAt(newYork, utc('2026-10-31T12:00'))?.at).toEqual(utc('2026-11-01T05:30'));
    // The second 01:30 (06:30Z, EST) is not a fire: nothing changes until the next day.
    expect(nextChangeAt(newYork, utc('2026-11-01T05:30'))?.at).toEqual(utc('2026-11-02T06:30'));
    expect(shown(newYork, '2026-11-01T06:45')).toBe('b (rotation)');
  });

  it('skips fires that do not change the image', () => {
    const state = user([rotation('r', ['a', 'a', 'b'], 'hourly', { createdAt: '2026-01-01T00:00:00Z' })]);
    expect(nextChangeAt(state, utc('2026-01-01T00:00'))?.at).toEqual(utc('2026-01-01T02:00'));
    expect(nextChangeAt(user([rotation('r', ['a', 'a'], 'hourly')]), utc('2026-01-01T00:00'))).toBeUndefined();
  });

  it('shows a random rotation’s last pick and announces its next fire as a random pick', () => {
    const random = rotation('r', ['a', 'b', 'c'], 'daily', { order: 'random', createdAt: '2026-01-01T00:00:00Z' });
    expect(shown(user([random]), '2026-02-01T12:00')).toBe('a (rotation)'); // nothing picked yet
    const state = user([random], { rotationState: { r: { current: 'c', lastChangedAt: '2026-02-01T00:00:00Z' } } });
    expect(shown(state, '2026-02-01T12:00')).toBe('c (rotation)');
    expect(nextChangeAt(state, utc('2026-02-01T12:00'))).toEqual({
      at: utc('2026-02-02T00:00'),
      image: undefined,
      source: { kind: 'rotation', id: 'r' },
      pickedAtRandom: true,
    });
    expect(changeWords('en-US', nextChangeAt(state, utc('2026-02-01T12:00'))!, 'UTC')).toBe('Feb 2 00:00 → a random image');
    expect(previousRotationFire(random, 'UTC', utc('2026-02-01T12:00'))).toEqual(utc('2026-02-01T00:00'));
    expect(previousRotationFire(random, 'UTC', utc('2026-01-01T00:00'))).toBeUndefined();
  });

  it('never picks the current image again (10 000 seeded draws)', () => {
    for (const images of [['a', 'b'], ['a', 'b', 'c'], ['a', 'b', 'c', 'd', 'e']]) {
      const random = seededRandom(images.length);
      const seen = new Map<string, number>();
      const repeats: string[] = [];
      let current: string | undefined;
      for (let draw = 0; draw < 10_000; draw += 1) {
        const next = nextRotationImage({ images, order: 'random' }, current, random);
        if (next === current || !images.includes(next)) repeats.push(`${draw}: ${current} → ${next}`);
        seen.set(next, (seen.get(next) ?? 0) + 1);
        current = next;
      }
      expect(repeats).toEqual([]);
      // Every image comes up, and roughly evenly.
      expect([...seen.keys()].sort()).toEqual(images);
      for (const count of seen.values()) expect(count).toBeGreaterThan(10_000 / images.length / 2);
    }
    // Even a random() that returns its extremes stays in the list and off the current image.
    expect(nextRotationImage({ images: ['a', 'b', 'c'], order: 'random' }, 'c', () => 0.9999999999)).toBe('b');
    expect(nextRotationImage({ images: ['a', 'b', 'c'], order: 'random' }, 'a', () => 0)).toBe('b');
    expect(nextRotationImage({ images: ['only'], order: 'random' }, 'only', Math.random)).toBe('only');
  });

  it('moves to the next image in sequence, wrapping', () => {
    const rot = { images: ['a', 'b', 'c'], order: 'sequence' as const };
    const never = () => {
      throw new Error('sequence must not use randomness');
    };
    expect(nextRotationImage(rot, 'a', never)).toBe('b');
    expect(nextRotationImage(rot, 'c', never)).toBe('a');
    expect(nextRotationImage(rot, undefined, never)).toBe('a');
    expect(nextRotationImage(rot, 'gone', never)).toBe('a');
    expect(refusal(() => nextRotationImage({ images: [], order: 'sequence' }, undefined, never)).kind).toBe('empty-rotation');
  });

  it('lets the latest-created rotation win', () => {
    const first = rotation('first', ['a', 'b'], 'daily', { createdAt: '2026-01-01T00:00:00Z' });
    const second = rotation('second', ['x', 'y'], 'daily', { createdAt: '2026-03-01T12:00:00Z' });
    const state = user([second, first]);
    expect(shown(state, '2026-02-01T12:00')).toBe('b (rotation)'); // 31 daily fires since Jan 1
    expect(shown(state, '2026-03-01T12:00')).toBe('x (rotation)');
    expect(shown(state, '2026-03-02T00:00')).toBe('y (rotation)');
    expect(nextChangeAt(state, utc('2026-03-01T00:30'))).toEqual({ at: utc('2026-03-01T12:00'), image: 'x', source: { kind: 'rotation', id: 'second' }, pickedAtRandom: false });
  });
});

describe('minimum interval between changes', () => {
  it('refuses a rotation every minute and accepts hourly', () => {
    expect(refusal(() => checkMinimumInterval(rotation('r', ['a', 'b'], '* * * * *')))).toEqual({
      kind: 'too-frequent',
      message: 'That schedule would change your avatar every 1 minute; the minimum is 15 minutes.',
    });
    expect(() => checkMinimumInterval(rotation('r', ['a', 'b'], 'hourly'))).not.toThrow();
    expect(() => checkMinimumInterval(rotation('r', ['a', 'b'], 'daily'))).not.toThrow();
    expect(() => checkMinimumInterval(rotation('r', ['a', 'b'], 'weekly'))).not.toThrow();
    expect(() => checkMinimumInterval(rotation('r', ['a', 'b'], '*/15 * * * *'))).not.toThrow();
  });

  it('measures the shortest gap, across midnight and with seconds', () => {
    const message = (every: string, minIntervalMs?: number) => refusal(() => checkMinimumInterval(rotation('r', ['a', 'b'], every), minIntervalMs)).message;
    expect(message('*/10 * * * *')).toBe('That schedule would change your avatar every 10 minutes; the minimum is 15 minutes.');
    expect(message('0,5 9 * * *')).toBe('That schedule would change your avatar every 5 minutes; the minimum is 15 minutes.');
    expect(message('*/30 * * * * *')).toBe('That schedule would change your avatar every 30 seconds; the minimum is 15 minutes.');
    // 23:50 and 00:05 the next day are 15 minutes apart.
    expect(message('5,50 0,23 * * *', 20 * 60_000)).toBe('That schedule would change your avatar every 15 minutes; the minimum is 20 minutes.');
    // …but not when the next day never matches.
    expect(() => checkMinimumInterval(rotation('r', ['a', 'b'], '5,50 0,23 * * mon'), 20 * 60_000)).not.toThrow();
    expect(message('hourly', 2 * 3_600_000)).toBe('That schedule would change your avatar every 1 hour; the minimum is 2 hours.');
    expect(message('0 0,1 * * *', 90 * 60_000)).toBe('That schedule would change your avatar every 1 hour; the minimum is 1 hour 30 minutes.');
  });

  it('lets seasons and events pass', () => {
    expect(() => checkMinimumInterval(season('s', 'a', '01-01', '01-01'))).not.toThrow();
    expect(() => checkMinimumInterval(event('e', 'a', '2026-01-01 00:00'))).not.toThrow();
  });
});

describe('events and precedence', () => {
  const winter = season('winter', 'snow', '12-01', '02-28');
  const party = event('party', 'xmas', '2026-12-24 18:00', '2026-12-26 00:00');

  it('shows an event from at until until (exclusive), in the user’s zone', () => {
    const state = user([winter, party], { timezone: 'Europe/Berlin', defaultImage: 'plain' });
    expect(shown(state, '2026-12-24T16:59:59')).toBe('snow (season)');
    expect(shown(state, '2026-12-24T17:00')).toBe('xmas (event)'); // 18:00 CET
    expect(shown(state, '2026-12-25T22:59:59')).toBe('xmas (event)');
    expect(shown(state, '2026-12-25T23:00')).toBe('snow (season)'); // Dec 26 00:00 CET
    expect(nextChangeAt(state, utc('2026-12-24T12:00'))).toEqual({ at: utc('2026-12-24T17:00'), image: 'xmas', source: { kind: 'event', id: 'party' }, pickedAtRandom: false });
    expect(nextChangeAt(state, utc('2026-12-24T17:00'))).toEqual({ at: utc('2026-12-25T23:00'), image: 'snow', source: { kind: 'season', id: 'winter' }, pickedAtRandom: false });
  });

  it('ranks an event over a rotation over a season over the default', () => {
    const rot = rotation('rot', ['r1', 'r2'], 'daily', { createdAt: '2026-12-10T00:00:00Z' });
    const state = user([party, rot, winter], { timezone: 'Europe/Berlin', defaultImage: 'plain' });
    expect(shown(state, '2026-11-15T12:00')).toBe('plain (default)');
    expect(shown(state, '2026-12-05T12:00')).toBe('snow (season)');
    expect(shown(state, '2026-12-10T12:00')).toBe('r1 (rotation)');
    expect(shown(state, '2026-12-25T12:00')).toBe('xmas (event)');
    // After the event the rotation shows what it would have shown: it kept counting meanwhile.
    // Fires at 00:00 CET (23:00Z) from Dec 11 to Dec 26 inclusive: 16 → r1.
    expect(shown(state, '2026-12-26T12:00')).toBe('r1 (rotation)');
    expect(shown(state, '2026-12-27T12:00')).toBe('r2 (rotation)');
    // Paused schedules are ignored.
    const paused = user([{ ...party, paused: true }, { ...rot, paused: true }, winter], { timezone: 'Europe/Berlin' });
    expect(shown(paused, '2026-12-25T12:00')).toBe('snow (season)');
  });

  it('treats an event without until as a one-shot change that lasts until something else changes', () => {
    const summer = season('summer', 'sun', '06-01', '08-31');
    const oneShot = event('hello', 'wave', '2026-07-10 12:00');
    const state = user([summer, oneShot], { defaultImage: 'plain' });
    expect(shown(state, '2026-07-10T11:59')).toBe('sun (season)');
    expect(shown(state, '2026-07-10T12:00')).toBe('wave (event)');
    expect(shown(state, '2026-08-20T12:00')).toBe('wave (event)');
    expect(nextChangeAt(state, utc('2026-07-10T12:00'))).toEqual({ at: utc('2026-09-01T00:00'), image: 'plain', source: { kind: 'default' }, pickedAtRandom: false });
    expect(shown(state, '2026-09-01T00:00')).toBe('plain (default)');
    // Next summer the season is back.
    expect(shown(state, '2027-07-10T12:00')).toBe('sun (season)');

    // With an hourly rotation, the next fire that changes the image ends it.
    const rot = rotation('rot', ['a', 'b'], 'hourly', { createdAt: '2026-07-01T00:00:00Z' });
    const busy = user([rot, oneShot]);
    expect(shown(busy, '2026-07-10T12:30')).toBe('wave (event)');
    expect(nextChangeAt(busy, utc('2026-07-10T12:00'))?.at).toEqual(utc('2026-07-10T13:00'));
    expect(shown(busy, '2026-07-10T13:00')).toBe('b (rotation)'); // fire 9 * 24 + 13 = 229 since Jul 1

    // A random rotation's next fire ends it too, as a random pick.
    const random = rotation('rand', ['a', 'b'], 'daily', { order: 'random', createdAt: '2026-07-01T00:00:00Z' });
    const randomState = user([random, oneShot], { rotationState: { rand: { current: 'b' } } });
    expect(shown(randomState, '2026-07-10T23:59')).toBe('wave (event)');
    expect(nextChangeAt(randomState, utc('2026-07-10T12:00'))).toMatchObject({ at: utc('2026-07-11T00:00'), pickedAtRandom: true });
    expect(shown(randomState, '2026-07-11T00:00')).toBe('b (rotation)');

    // A later one-shot takes over from an earlier one.
    const later = event('later', 'bye', '2026-07-20 08:00');
    expect(shown(user([summer, oneShot, later]), '2026-07-25T00:00')).toBe('bye (event)');
    // Without anything else it stays for good.
    expect(shown(user([oneShot]), '2030-01-01T00:00')).toBe('wave (event)');
    expect(nextChangeAt(user([oneShot]), utc('2026-07-10T12:00'))).toBeUndefined();
  });

  it('lets the event that started last win while several are active', () => {
    const long = event('long', 'long', '2026-05-01 00:00', '2026-05-31 00:00');
    const short = event('short', 'short', '2026-05-10 00:00', '2026-05-12 00:00');
    const state = user([short, long]);
    expect(shown(state, '2026-05-05T00:00')).toBe('long (event)');
    expect(shown(state, '2026-05-11T00:00')).toBe('short (event)');
    expect(shown(state, '2026-05-13T00:00')).toBe('long (event)');
    expect(shown(state, '2026-06-01T00:00')).toBe('- (none)');
  });

  it('uses the user’s zone for event times, including a time in a DST gap', () => {
    const gap = event('gap', 'g', '2026-03-08 02:30', '2026-03-08 04:00');
    const state = user([gap], { timezone: 'America/New_York', defaultImage: 'plain' });
    expect(nextChangeAt(state, utc('2026-03-08T00:00'))?.at).toEqual(utc('2026-03-08T07:00')); // 03:00 EDT
    expect(shown(state, '2026-03-08T07:59')).toBe('g (event)');
    expect(shown(state, '2026-03-08T08:00')).toBe('plain (default)'); // 04:00 EDT
  });
});

describe('nextChangeAt', () => {
  it('walks across the year boundary', () => {
    const winter = season('winter', 'snow', '12-01', '02-28');
    const newYear = season('newyear', 'fireworks', '01-01', '01-01', { priority: 1 });
    const state = user([winter, newYear], { timezone: 'America/New_York', defaultImage: 'plain' });
    const chain: string[] = [];
    let after = utc('2026-11-15T00:00');
    for (let step = 0; step < 4; step += 1) {
      const change = nextChangeAt(state, after)!;
      chain.push(`${formatInZone(change.at, 'America/New_York', { year: true })} → ${change.image}`);
      after = change.at;
    }
    expect(chain).toEqual(['Dec 1, 2026 00:00 → snow', 'Jan 1, 2027 00:00 → fireworks', 'Jan 2, 2027 00:00 → snow', 'Mar 1, 2027 00:00 → plain']);
  });

  it('returns undefined when nothing will change', () => {
    expect(nextChangeAt(user([], { defaultImage: 'plain' }), utc('2026-01-01T00:00'))).toBeUndefined();
    expect(nextChangeAt(user([season('all', 'x', '01-01', '12-31')]), utc('2026-06-01T00:00'))).toBeUndefined();
  });

  it('ignores boundaries where another rule takes over with the same image', () => {
    const a = season('a', 'same', '12-01', '12-10');
    const b = season('b', 'same', '12-11', '12-20');
    const state = user([a, b], { defaultImage: 'plain' });
    expect(nextChangeAt(state, utc('2026-12-05T00:00'))?.at).toEqual(utc('2026-12-21T00:00'));
  });
});

describe('previewDate', () => {
  it('says which image would show at noon local that day, and why', () => {
    const xmas = season('xmas', 'tree', '12-20', '12-26', { priority: 5 });
    const winter = season('winter', 'snow', '12-01', '02-28');
    const state = user([winter, xmas], { timezone: 'Europe/Berlin', defaultImage: 'plain' });
    const reason = (preview: { rule: Parameters<typeof ruleWords>[1] }) => ruleWords('en-US', preview.rule);
    const christmas = previewDate(state, '2026-12-25');
    expect(christmas).toMatchObject({ at: utc('2026-12-25T11:00'), image: 'tree', source: { kind: 'season', id: 'xmas' } });
    expect(reason(christmas)).toBe('the season 12-20 to 12-26 (priority 5)');
    expect(reason(previewDate(state, '2027-01-05'))).toBe('the season 12-01 to 02-28');
    expect(previewDate(state, '2027-07-05')).toMatchObject({ image: 'plain' });
    expect(reason(previewDate(state, '2027-07-05'))).toBe('your default image');
    expect(previewDate(user([]), '2027-07-05')).toMatchObject({ image: undefined });
    expect(reason(previewDate(user([]), '2027-07-05'))).toBe('nothing is scheduled and there is no default image');
    const withEvent = user([event('e', 'party', '2027-07-05 10:00', '2027-07-05 14:00')]);
    expect(previewDate(withEvent, '2027-07-05')).toMatchObject({ image: 'party' });
    expect(reason(previewDate(withEvent, '2027-07-05'))).toBe('the event from 2027-07-05 10:00 until 2027-07-05 14:00');
    expect(refusal(() => previewDate(state, '2027-02-30')).kind).toBe('invalid-date');
  });
});

describe('countFires', () => {
  it('counts in bounded work exactly what stepping fire by fire counts, across DST changes', () => {
    const random = seededRandom(7);
    const crons = ['0 * * * *', '30 2 * * *', '0 0 29 2 *', '*/20 1-3 * * 0', '0 0 * * 1', '15 0,1,2,3 * 3,10,11 *', '0 30 1 * * *', '*/5 * * * *'];
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'America/Santiago', 'Asia/Tehran', 'Pacific/Apia', 'Africa/Casablanca'];
    for (let i = 0; i < 150; i++) {
      const spec = parseCron(crons[Math.floor(random() * crons.length)]!);
      const zone = zones[Math.floor(random() * zones.length)]!;
      const after = Date.UTC(2005, 0, 1) + Math.floor(random() * 20 * 365 * 86_400_000);
      const until = after + Math.floor(random() * (spec.expression.startsWith('*/5') ? 60 : 800) * 86_400_000);
      let n = 0;
      for (let cursor = after; ; ) {
        const next = nextFire(spec, zone, cursor, until);
        if (next === undefined) break;
        n++;
        cursor = next;
      }
      expect(countFires(spec, zone, after, until), `${spec.expression} ${zone} ${new Date(after).toISOString()}..${new Date(until).toISOString()}`).toBe(n);
    }
  });
});

describe('events are moments', () => {
  const now = utc('2026-11-30T12:00');
  const input = (at: string, until?: string) => ({ id: 'e', createdAt: now.toISOString(), image: 'party', at, ...(until ? { until } : {}) });

  it('pins an event to its instants: a later change of zone neither moves nor repeats it', () => {
    const { event, startsNow } = createEvent(input('2026-12-24 18:00', '2026-12-24 20:00'), 'Europe/Berlin', now);
    expect(startsNow).toBe(false);
    expect(event).toMatchObject({ atUtc: '2026-12-24T17:00:00.000Z', untilUtc: '2026-12-24T19:00:00.000Z' });
    const state = user([event], { timezone: 'America/New_York' });
    expect(shown(state, '2026-12-24T17:30')).toBe('party (event)');
    expect(shown(state, '2026-12-24T23:30')).toBe('- (none)'); // 18:00 in New York: nothing
    expect(eventTimes(event, 'America/New_York')).toEqual({ at: '2026-12-24 12:00', until: '2026-12-24 14:00' });
  });

  it('pins events stored as wall clock in the zone they were made in, before the zone changes', () => {
    const state = user([event('old', 'party', '2026-12-24 18:00')], { timezone: 'Europe/Berlin' });
    pinEvents(state);
    expect(state.schedules[0]).toMatchObject({ at: '2026-12-24 18:00', atUtc: '2026-12-24T17:00:00.000Z' });
    state.timezone = 'Asia/Tokyo';
    expect(nextChangeAt(state, utc('2026-12-24T00:00'))?.at).toEqual(utc('2026-12-24T17:00'));
  });

  it('refuses an event that is over; one that started in the past starts now', () => {
    expect(refusal(() => createEvent(input('2026-11-30 09:00', '2026-11-30 11:00'), 'UTC', now))).toEqual({
      kind: 'invalid-date',
      message: 'That event is already over: it ended at 2026-11-30 11:00 (UTC), before now. Pick an until in the future.',
    });
    const { event: started, startsNow } = createEvent(input('2026-11-30 09:00', '2026-11-30 13:00'), 'UTC', now);
    expect(startsNow).toBe(true);
    expect(started.atUtc).toBe(now.toISOString());
    expect(createEvent(input('2026-11-29 09:00'), 'UTC', now)).toMatchObject({ startsNow: true, event: { atUtc: now.toISOString() } });
  });
});

describe('plannedChange (what /schedule list shows and the scheduler plans)', () => {
  const record = (schedules: Schedule[], extra: Partial<ScheduleRecord> = {}): ScheduleRecord => ({ timezone: 'UTC', schedules, notify: { mode: 'dm' }, ...extra });

  it('holds a due change back to the end of the minimum interval, and a later one too', () => {
    const state = record([event('e', 'party', '2026-12-24 18:00', '2026-12-24 20:00')], { defaultImage: 'usual', applied: { image: 'usual', at: '2026-12-24T17:55:00.000Z' } });
    expect(plannedChange(state, [], utc('2026-12-24T17:50'), 15 * 60_000)).toMatchObject({ at: utc('2026-12-24T18:10'), image: 'party', heldBack: 'minimum-interval' });
    expect(plannedChange(state, [], utc('2026-12-24T18:01'), 15 * 60_000)).toMatchObject({ at: utc('2026-12-24T18:10'), image: 'party', heldBack: 'minimum-interval' });
    expect(plannedChange(state, [], utc('2026-12-24T18:01'), 0)).toMatchObject({ at: utc('2026-12-24T20:00'), image: 'usual' });
  });

  it('waits for a pending retry, and while a team season is active its end comes next', () => {
    const retrying = record([], { defaultImage: 'usual', retry: { at: '2026-12-24T18:04:00.000Z', rateLimits: 1 } });
    expect(plannedChange(retrying, [], utc('2026-12-24T18:00'), 0)).toMatchObject({ at: utc('2026-12-24T18:04'), image: 'usual', heldBack: 'retry' });
    const teams = [{ guildId: 'g', seasons: [season('t', 'team-t', '12-24', '12-24')] }];
    const personal = record([rotation('r', ['a', 'b'], 'hourly')], { applied: { image: 'team:g/team-t', at: '2026-12-24T00:00:00.000Z' } });
    expect(plannedChange(personal, teams, utc('2026-12-24T18:30'), 0)).toMatchObject({ at: utc('2026-12-25T00:00'), pickedAtRandom: false });
    expect(plannedChange({ ...personal, suspended: { reason: 'link', at: '2026-12-24T00:00:00.000Z' } }, teams, utc('2026-12-24T18:30'), 0)).toBeUndefined();
  });
});
