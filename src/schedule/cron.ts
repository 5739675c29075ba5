/**
 * Cron expressions for rotations: checked field by field so a user learns which field is wrong, then
 * double-checked with node-cron's own validator, and evaluated here against a time zone.
 *
 * Accepted, as node-cron accepts them: 5 fields (minute hour day-of-month month day-of-week) or 6 with
 * seconds first; in each field `*`, `*\/n`, `a`, `a-b` (wrapping when a > b, like 22-2), `a-b/n` and lists
 * `a,b`; month names (jan, january) and day names (mon, monday); day of week 0-7 with 0 and 7 Sunday.
 * node-cron's extensions (L, W, #, ?, @nicknames) are refused with a sentence.
 *
 * A day matches when BOTH the day-of-month and the day-of-week fields match (node-cron's rule, not
 * Vixie cron's "either"), so `0 0 13 * 5` means Friday the 13th.
 *
 * Fires happen on the wall clock of the zone. A fire time that does not exist on a spring-forward day
 * happens at the first instant after the gap, and fire times that collapse onto the same instant count
 * once; a fire time that happens twice on a fall-back day fires at its first occurrence only.
 */
import cron from 'node-cron';
import { ScheduleError } from './errors.js';
import { DAY_MS, instantOf, isLeapYear, localDayStart, offsetChangesBetween, offsetsAroundDay, wallClockDate, wallClockMs } from './zoned-time.js';
import { excerpt } from '../text.js';

export interface CronSpec {
  expression: string;
  /** Seconds since local midnight at which it fires on a matching day, ascending (86,400 at most). */
  timesOfDay: Int32Array;
  months: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  /** 0 = Sunday. */
  daysOfWeek: ReadonlySet<number>;
}

interface FieldRule {
  /** The field's id in the error's `cronField` (its words are the catalogue's `cron.field.<id>`). */
  field: CronField;
  min: number;
  max: number;
  names?: readonly string[];
  longNames?: readonly string[];
}

export type CronField = 'second' | 'minute' | 'hour' | 'day-of-month' | 'month' | 'day-of-week';

const SECOND_RULE: FieldRule = { field: 'second', min: 0, max: 59 };
const DAY_OF_WEEK_RULE: FieldRule = {
  field: 'day-of-week',
  min: 0,
  max: 7,
  names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
  longNames: ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'],
};
const FIELD_RULES: readonly FieldRule[] = [
  { field: 'minute', min: 0, max: 59 },
  { field: 'hour', min: 0, max: 23 },
  { field: 'day-of-month', min: 1, max: 31 },
  {
    field: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
    longNames: ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'],
  },
  DAY_OF_WEEK_RULE,
];
const MAX_DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** variant: which of error.invalid-cron.* says it (src/i18n/en-US/errors.ts). */
const invalid = (variant: string | undefined, params: Record<string, string | number>) => new ScheduleError('invalid-cron', params, { variant });

function fieldError(rule: FieldRule, raw: string): ScheduleError {
  return invalid('field', { cronField: rule.field, text: excerpt(raw) });
}

function valueOf(text: string, rule: FieldRule, raw: string): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < rule.min || value > rule.max) throw invalid('range', { cronField: rule.field, text: excerpt(raw), min: rule.min, max: rule.max });
    return value;
  }
  const lower = text.toLowerCase();
  const index = Math.max(rule.names?.indexOf(lower) ?? -1, rule.longNames?.indexOf(lower) ?? -1);
  if (index >= 0) return index + rule.min;
  throw fieldError(rule, raw);
}

/** The values one field allows; throws a sentence naming the field. */
function parseField(raw: string, rule: FieldRule): Set<number> {
  if (/[#?]/.test(raw) || (!rule.names && /[LW]/i.test(raw))) {
    throw invalid('unsupported', { cronField: rule.field, text: excerpt(raw) });
  }
  const dayOfWeek = rule === DAY_OF_WEEK_RULE;
  // Ranges wrap within the field's bounds; day of week wraps within 0-6 (7 is Sunday again).
  const low = rule.min;
  const high = dayOfWeek ? 6 : rule.max;
  const values = new Set<number>();
  for (const item of raw.split(',')) {
    const match = /^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:\/(\d+))?$/i.exec(item);
    if (!match) throw fieldError(rule, raw);
    const [, star, startText, endText, stepText] = match;
    if (stepText !== undefined && Number(stepText) < 1) throw invalid('step-min', { cronField: rule.field, text: excerpt(raw), step: stepText });
    if (startText !== undefined && endText === undefined && stepText !== undefined) throw fieldError(rule, raw); // "5/15" is not cron
    const step = Number(stepText ?? 1);
    if (step > rule.max - rule.min + 1) throw invalid('step-max', { cronField: rule.field, text: raw, step: stepText as string, max: rule.max - rule.min + 1 });
    let start = star ? low : valueOf(startText as string, rule, raw);
    let end = star ? high : endText === undefined ? start : valueOf(endText, rule, raw);
    if (dayOfWeek && start > end) {
      start %= 7;
      end %= 7;
    }
    const length = start <= end ? end - start : end - start + (high - low + 1);
    for (let offset = 0; offset <= length; offset += step) {
      const value = start + offset;
      values.add(start <= end || value <= high ? value : value - (high - low + 1));
    }
  }
  if (dayOfWeek && values.delete(7)) values.add(0);
  return values;
}

const NODE_CRON_FIELDS: Record<string, CronField> = {
  second: 'second',
  minute: 'minute',
  hour: 'hour',
  dayOfMonth: 'day-of-month',
  month: 'month',
  dayOfWeek: 'day-of-week',
};

/**
 * Parsed expressions, oldest first out. A restore parses every rotation's expression, and 100,000 users
 * hold thousands of distinct ones (the bench's: about 10,000); cleared at 1,000 entries, the cache missed
 * on most of them and node-cron's validator cost 0.7 s of that restore. Bounded by entries and by the
 * size of the tables (an every-second expression holds 86,400 times, 340 KB). Not moved to the back on
 * a hit: that cost 0.4 s of the same restore.
 */
const specCache = new Map<string, CronSpec>();
const SPEC_CACHE_ENTRIES = 20_000;
const SPEC_CACHE_TIMES = 4_000_000; // 16 MB of Int32Array
let cachedTimes = 0;

function cacheSpec(expression: string, spec: CronSpec): void {
  specCache.set(expression, spec);
  cachedTimes += spec.timesOfDay.length;
  for (const [oldest, evicted] of specCache) {
    if (specCache.size <= SPEC_CACHE_ENTRIES && cachedTimes <= SPEC_CACHE_TIMES) break;
    specCache.delete(oldest);
    cachedTimes -= evicted.timesOfDay.length;
  }
}

/** Longer expressions are refused before they are parsed or echoed back. */
export const MAX_CRON_LENGTH = 120;

/**
 * Checks a cron expression and prepares it for evaluation. Throws ScheduleError('invalid-cron') with a
 * sentence naming the wrong field, e.g. 'The hour field "25" is out of range (0-23).'
 */
export function parseCron(expression: string): CronSpec {
  // Checked before anything else: the longest useful expression (six lists of values) fits well within it.
  if (expression.length > MAX_CRON_LENGTH) {
    throw invalid('too-long', { max: MAX_CRON_LENGTH, length: expression.length });
  }
  const cached = specCache.get(expression);
  if (cached) return cached;
  const trimmed = expression.trim();
  if (trimmed.startsWith('@')) {
    throw invalid('nickname', { text: excerpt(trimmed) });
  }
  const raw = trimmed === '' ? [] : trimmed.split(/\s+/);
  if (raw.length !== 5 && raw.length !== 6) {
    throw invalid('field-count', { text: trimmed, count: raw.length });
  }
  const rules = raw.length === 6 ? [SECOND_RULE, ...FIELD_RULES] : FIELD_RULES;
  const parsed = raw.map((field, index) => parseField(field, rules[index] as FieldRule));
  const [seconds, minutes, hours, daysOfMonth, months, daysOfWeek] = (raw.length === 6 ? parsed : [new Set([0]), ...parsed]) as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  const [domText, monthText] = raw.slice(-3, -1) as [string, string];
  if (![...months].some((month) => [...daysOfMonth].some((day) => day <= (MAX_DAYS_IN_MONTH[month - 1] ?? 0)))) {
    throw invalid('never', { text: excerpt(domText), month: excerpt(monthText) });
  }
  // Our checker and node-cron should agree; if node-cron still refuses, say which field it dislikes.
  if (!cron.validate(trimmed)) {
    const problem = cron.validateDetailed(trimmed).errors[0];
    const field = problem ? NODE_CRON_FIELDS[problem.field] : undefined;
    throw field && problem?.value !== undefined ? invalid('node-cron', { cronField: field, text: excerpt(String(problem.value)) }) : invalid(undefined, { text: excerpt(trimmed) });
  }
  const sorted = (set: Set<number>) => [...set].sort((a, b) => a - b);
  const [hourList, minuteList, secondList] = [sorted(hours), sorted(minutes), sorted(seconds)];
  // A typed array: every second of the day is 86,400 entries, built in about a millisecond.
  const timesOfDay = new Int32Array(hourList.length * minuteList.length * secondList.length);
  let filled = 0;
  for (const hour of hourList) for (const minute of minuteList) for (const second of secondList) timesOfDay[filled++] = hour * 3600 + minute * 60 + second;
  const spec: CronSpec = { expression: trimmed, timesOfDay, months, daysOfMonth, daysOfWeek };
  cacheSpec(expression, spec);
  return spec;
}

export function cronMatchesDay(spec: CronSpec, dayStart: number): boolean {
  const { month, day, weekday } = wallClockDate(dayStart);
  return spec.months.has(month) && spec.daysOfMonth.has(day) && spec.daysOfWeek.has(weekday);
}

/** More than any UTC offset: a local day's instants lie within this of its wall-clock values. */
const MAX_OFFSET_MS = 16 * 3_600_000;

/** The first index in [0, length) whose value is greater than `bound`, for values that never decrease. */
function firstAbove(length: number, valueAt: (index: number) => number, bound: number): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (valueAt(middle) > bound) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** About nine years: long enough to reach the next Feb 29 across a skipped leap year (2100). */
const DEFAULT_SEARCH_DAYS = 9 * 366;

/** The first fire strictly after `afterMs`, or undefined if none by `notAfterMs`. */
export function nextFire(spec: CronSpec, zone: string, afterMs: number, notAfterMs = afterMs + DEFAULT_SEARCH_DAYS * DAY_MS): number | undefined {
  const { timesOfDay } = spec;
  // Start a day early: a gap at midnight can push yesterday's last times into today.
  for (let dayStart = localDayStart(zone, afterMs) - DAY_MS; ; dayStart += DAY_MS) {
    if (dayStart - MAX_OFFSET_MS > notAfterMs) return undefined;
    if (!cronMatchesDay(spec, dayStart)) continue;
    const offsets = offsetsAroundDay(zone, dayStart);
    const instant = (index: number) => instantOf(dayStart + (timesOfDay[index] as number) * 1000, offsets);
    // Instants are non-decreasing in local time, so bisect for the first one after `afterMs`.
    const low = firstAbove(timesOfDay.length, instant, afterMs);
    if (low < timesOfDay.length) {
      const found = instant(low);
      return found <= notAfterMs ? found : undefined;
    }
  }
}

/** The last fire at or before `atMs`, looking back at most `notBeforeMs`. */
export function previousFire(spec: CronSpec, zone: string, atMs: number, notBeforeMs = atMs - DEFAULT_SEARCH_DAYS * DAY_MS): number | undefined {
  const { timesOfDay } = spec;
  for (let dayStart = localDayStart(zone, atMs) + DAY_MS; ; dayStart -= DAY_MS) {
    if (dayStart + DAY_MS + MAX_OFFSET_MS < notBeforeMs) return undefined;
    if (!cronMatchesDay(spec, dayStart)) continue;
    const offsets = offsetsAroundDay(zone, dayStart);
    const instant = (index: number) => instantOf(dayStart + (timesOfDay[index] as number) * 1000, offsets);
    const low = firstAbove(timesOfDay.length, instant, atMs);
    if (low > 0) {
      const found = instant(low - 1);
      return found >= notBeforeMs ? found : undefined;
    }
  }
}

/**
 * The distinct fire instants in (afterMs, untilMs] of the local days from `firstDay` to `lastDay`.
 * Within a day a fire's instant never decreases with its local time (see `instantOf`): the times in a
 * spring-forward gap all land on the instant of the change, which counts once. So each day is counted
 * by bisection, whatever the number of fires in it (86,400 for every second).
 */
function countFiresByDay(spec: CronSpec, zone: string, firstDay: number, lastDay: number, afterMs: number, untilMs: number): number {
  const { timesOfDay } = spec;
  let count = 0;
  let lastCounted = afterMs;
  for (let dayStart = firstDay; dayStart <= lastDay; dayStart += DAY_MS) {
    if (!cronMatchesDay(spec, dayStart)) continue;
    const offsets = offsetsAroundDay(zone, dayStart);
    const instant = (index: number) => instantOf(dayStart + (timesOfDay[index] as number) * 1000, offsets);
    const from = firstAbove(timesOfDay.length, instant, lastCounted);
    const to = firstAbove(timesOfDay.length, instant, untilMs);
    if (to <= from) continue;
    count += to - from;
    const { change } = offsets;
    if (change !== undefined) {
      // Times that collapsed onto the change instant count once.
      const collapsed = Math.min(to, firstAbove(timesOfDay.length, instant, change)) - Math.max(from, firstAbove(timesOfDay.length, instant, change - 1));
      if (collapsed > 1) count -= collapsed - 1;
    }
    lastCounted = instant(to - 1);
  }
  return count;
}

/** Matching days per kind of year (leap or not, and the weekday of Jan 1): 14 kinds, counted once per spec. */
const yearCounts = new WeakMap<CronSpec, Map<string, number>>();

function matchingDaysInYear(spec: CronSpec, year: number): number {
  let counts = yearCounts.get(spec);
  if (!counts) yearCounts.set(spec, (counts = new Map()));
  const start = wallClockMs(year, 1, 1);
  const key = `${isLeapYear(year)}|${wallClockDate(start).weekday}`;
  let count = counts.get(key);
  if (count === undefined) {
    count = 0;
    for (let day = start, end = wallClockMs(year + 1, 1, 1); day < end; day += DAY_MS) if (cronMatchesDay(spec, day)) count += 1;
    counts.set(key, count);
  }
  return count;
}

/** How many local days from `firstDay` to `lastDay` (wall-clock day starts, both included) match: whole years at once. */
function matchingDays(spec: CronSpec, firstDay: number, lastDay: number): number {
  if (lastDay < firstDay) return 0;
  // Every day matches (daily, hourly, most rotations): no day to look at. A restore of 100,000 schedules
  // spent a second here, a day at a time from each rotation's creation to the next new year.
  if (spec.months.size === 12 && spec.daysOfMonth.size === 31 && spec.daysOfWeek.size === 7) return Math.floor((lastDay - firstDay) / DAY_MS) + 1;
  let count = 0;
  let day = firstDay;
  const first = wallClockDate(firstDay);
  const newYear = first.month === 1 && first.day === 1 ? firstDay : wallClockMs(first.year + 1, 1, 1);
  for (; day <= lastDay && day < newYear; day += DAY_MS) if (cronMatchesDay(spec, day)) count += 1;
  for (let year = wallClockDate(day).year; day <= lastDay && wallClockMs(year + 1, 1, 1) - DAY_MS <= lastDay; year += 1) {
    count += matchingDaysInYear(spec, year);
    day = wallClockMs(year + 1, 1, 1);
  }
  for (; day <= lastDay; day += DAY_MS) if (cronMatchesDay(spec, day)) count += 1;
  return count;
}

/**
 * How many distinct fire instants fall in (afterMs, untilMs]. Bounded work whatever the span: the days
 * at both ends and around each change of the zone's offset (where fires can collapse or be skipped) are
 * counted instant by instant; every other day fires exactly `timesOfDay.length` times, so those are
 * counted as matching days (whole years from a table of 14 kinds of year) times fires per day. Walking
 * day by day from a rotation's creation to 9999-12-31 took about a minute; now 36 years in a zone with
 * daylight saving cost a few milliseconds (see test/adversarial/parsers.test.ts).
 */
export function countFires(spec: CronSpec, zone: string, afterMs: number, untilMs: number): number {
  if (untilMs <= afterMs) return 0;
  const firstDay = localDayStart(zone, afterMs) - DAY_MS;
  const lastDay = localDayStart(zone, untilMs) + DAY_MS;
  const exact: Array<[number, number]> = [[firstDay, firstDay + 2 * DAY_MS]];
  for (const change of offsetChangesBetween(zone, afterMs - 3 * DAY_MS, untilMs + 3 * DAY_MS)) {
    const day = localDayStart(zone, change);
    exact.push([day - 2 * DAY_MS, day + 2 * DAY_MS]);
  }
  exact.push([lastDay - 2 * DAY_MS, lastDay]);
  let count = 0;
  let next = firstDay; // the first day not counted yet
  for (const [from, to] of exact) {
    const start = Math.max(from, next);
    const end = Math.min(to, lastDay);
    if (end < start) continue;
    if (start > next) count += spec.timesOfDay.length * matchingDays(spec, next, start - DAY_MS);
    count += countFiresByDay(spec, zone, start, end, afterMs, untilMs);
    next = end + DAY_MS;
  }
  return count;
}

/**
 * The shortest wall-clock time between two consecutive fires, in seconds (Infinity if it never fires).
 * Day patterns repeat every 28 years within a century, so scanning 28 years finds the closest two
 * matching days. A DST jump can shorten one gap a year by the size of the jump; that is not counted.
 */
export function shortestGapSeconds(spec: CronSpec): number {
  const times = spec.timesOfDay;
  const first = times[0];
  const last = times[times.length - 1];
  if (first === undefined || last === undefined) return Infinity;
  let shortest = Infinity;
  for (let index = 1; index < times.length; index += 1) shortest = Math.min(shortest, (times[index] as number) - (times[index - 1] as number));
  let previousMatch: number | undefined;
  let closestDays = Infinity;
  const end = wallClockMs(2029, 1, 1);
  for (let dayStart = wallClockMs(2001, 1, 1); dayStart < end && closestDays > 1; dayStart += DAY_MS) {
    if (!cronMatchesDay(spec, dayStart)) continue;
    if (previousMatch !== undefined) closestDays = Math.min(closestDays, (dayStart - previousMatch) / DAY_MS);
    previousMatch = dayStart;
  }
  return Math.min(shortest, closestDays * 86_400 - last + first);
}
