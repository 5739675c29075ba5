/**
 * Wall-clock time in IANA time zones with nothing but Intl: converting between instants and local
 * date-times, including the days when the clocks jump.
 *
 * - A local time that does not exist (inside a spring-forward gap, e.g. 02:30 in Europe/Berlin on the
 *   last Sunday of March) maps to the first instant after the gap (03:00 local).
 * - A local time that happens twice (inside a fall-back overlap, e.g. 01:30 in America/New_York on the
 *   first Sunday of November) maps to its first occurrence.
 * - We assume at most one offset change within any ~56-hour window, which holds for every zone in
 *   use today.
 */
import { ScheduleError } from './errors.js';
import { excerpt } from '../text.js';

export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second?: number;
}

export interface ZonedDateTime extends Required<LocalDateTime> {
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** The zone's offset from UTC at that instant, in minutes (east positive). */
  offsetMinutes: number;
}

const SECOND = 1000;
const HOUR = 3_600_000;
export const DAY_MS = 86_400_000;
/** Farther than any UTC offset ever used (±15h), so a local day always lies inside the window. */
const WINDOW_MARGIN = 16 * HOUR;

/** Milliseconds of a date-time read as if it were UTC; works for years 0-99 too. */
export function wallClockMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

/**
 * The calendar date of a wall-clock value (see `wallClockMs`). Arithmetic only (H. Hinnant's
 * civil_from_days): it runs for every day a cron is matched against, where a Date object each was the
 * slowest step.
 */
export function wallClockDate(ms: number): { year: number; month: number; day: number; weekday: number } {
  const days = Math.floor(ms / DAY_MS);
  const shifted = days + 719_468; // days from 0000-03-01
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day, weekday: (((days + 4) % 7) + 7) % 7 };
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  return new Date(wallClockMs(year, month + 1, 0)).getUTCDate();
}

// ---------------------------------------------------------------------------------------------
// Time zone names

let zoneList: readonly string[] | undefined;

/** Every IANA zone Intl knows, with UTC first (it is the default and not in Intl's list). */
export function listTimeZones(): readonly string[] {
  zoneList ??= ['UTC', ...Intl.supportedValuesOf('timeZone').filter((zone) => zone !== 'UTC')];
  return zoneList;
}

/** For autocomplete: names starting with the query first, then names containing it. Spaces match underscores. */
export function searchTimeZones(query: string, limit = 25): string[] {
  const needle = query.slice(0, MAX_ZONE_NAME_LENGTH).trim().toLowerCase().replace(/\s+/g, '_');
  const zones = listTimeZones();
  if (!needle) return zones.slice(0, limit);
  const starts: string[] = [];
  const contains: string[] = [];
  for (const zone of zones) {
    const name = zone.toLowerCase();
    const city = name.slice(name.lastIndexOf('/') + 1);
    if (name.startsWith(needle) || city.startsWith(needle)) starts.push(zone);
    else if (name.includes(needle)) contains.push(zone);
  }
  return [...starts, ...contains].slice(0, limit);
}

/**
 * The zone name to store: the spelling from `listTimeZones()` when the name is there (any case),
 * otherwise the name as typed if Intl accepts it (aliases such as Asia/Kolkata or US/Eastern).
 */
export function validateTimeZone(name: string): string {
  if (name.length > MAX_ZONE_NAME_LENGTH) {
    // Refused before any lookup, and not echoed back.
    throw new ScheduleError('invalid-timezone', { max: MAX_ZONE_NAME_LENGTH }, { variant: 'too-long' });
  }
  const known = validatedZones.get(name);
  if (known !== undefined) return known;
  const zone = checkTimeZone(name);
  validatedZones.set(name, zone);
  return zone;
}

/** The longest IANA name is 32 characters (America/Argentina/ComodRivadavia). */
export const MAX_ZONE_NAME_LENGTH = 64;

/** Every name seen, checked once: restoring 10,000 users' schedules asks for the same few zones. */
const validatedZones = new Map<string, string>();

function checkTimeZone(name: string): string {
  const trimmed = name.trim();
  const listed = listTimeZones().find((zone) => zone.toLowerCase() === trimmed.toLowerCase());
  if (listed) return listed;
  try {
    if (!/^[A-Za-z]/.test(trimmed)) throw new RangeError('not a zone name');
    new Intl.DateTimeFormat('en-US', { timeZone: trimmed });
    return trimmed;
  } catch (cause) {
    throw new ScheduleError(
      'invalid-timezone',
      { zone: excerpt(trimmed) },
      { cause },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Instants ⇄ wall clock

const partsFormatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(zone: string): Intl.DateTimeFormat {
  let formatter = partsFormatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partsFormatters.set(zone, formatter);
  }
  return formatter;
}

/**
 * A cache keyed by zone, then by a number (an instant, a year), emptied when it holds `limit` entries.
 * Two levels because a key string per lookup (`${zone}|${ms}`) was the costliest step of the engine in a
 * restore of 100,000 schedules (1.4 s of about 10 s: every day a rotation's fires are counted over).
 */
class ZoneCache<Value> {
  private readonly zones = new Map<string, Map<number, Value>>();
  private size = 0;
  constructor(private readonly limit: number) {}
  get(zone: string, key: number): Value | undefined {
    return this.zones.get(zone)?.get(key);
  }
  has(zone: string, key: number): boolean {
    return this.zones.get(zone)?.has(key) ?? false;
  }
  set(zone: string, key: number, value: Value): void {
    if (this.size >= this.limit) {
      this.zones.clear();
      this.size = 0;
    }
    let values = this.zones.get(zone);
    if (!values) this.zones.set(zone, (values = new Map()));
    if (!values.has(key)) this.size += 1;
    values.set(key, value);
  }
}

/** The wall clock in `zone` at an instant, as a wall-clock value (whole seconds). */
function wallClockAt(zone: string, instantMs: number): number {
  const fields: Record<string, string> = {};
  for (const part of partsFormatter(zone).formatToParts(new Date(instantMs))) fields[part.type] = part.value;
  const year = Number(fields.year);
  return wallClockMs(fields.era === 'BC' ? 1 - year : year, Number(fields.month), Number(fields.day), Number(fields.hour) % 24, Number(fields.minute), Number(fields.second));
}

/** The zone's UTC offset at an instant, in milliseconds (east positive), asked of Intl directly. */
function rawOffsetAt(zone: string, instantMs: number): number {
  const floored = Math.floor(instantMs / SECOND) * SECOND;
  let offset = offsetCache.get(zone, floored);
  if (offset === undefined) {
    offset = wallClockAt(zone, floored) - floored;
    offsetCache.set(zone, floored, offset);
  }
  return offset;
}

/**
 * Intl's formatToParts is the slow step of every zone computation (about 6 µs a call here), and the same
 * instants come up for every user in a zone. Bounded: cleared when full.
 */
const offsetCache = new ZoneCache<number>(200_000);

/**
 * One UTC year of a zone: its offset at the start and every change in it, so that every later question
 * about that year costs no Intl call at all. Built from samples 14 days apart and a bisection to the
 * minute (then to the second, if the change is not on a whole minute) for each change, with a cheap
 * probe (the zone's offset as text, about 3 µs): about 60 probes, 0.2 ms, for a year with daylight
 * saving. Asking Intl per local day instead made 10 years of a rotation's fires cost about 70 ms, and
 * sampling weekly with formatToParts 1.5 ms a year. Two changes less than 14 days apart that cancel
 * out would be missed; no zone has had such a pair since 2000 (the closest, Egypt's in 2010, were 20
 * days apart), and the engine refuses dates before 2020.
 */
interface ZoneYear {
  startOffset: number;
  changes: Array<{ at: number; offset: number }>;
}

const SAMPLE_MS = 14 * DAY_MS;
const MINUTE = 60_000;
const zoneYears = new ZoneCache<ZoneYear>(50_000);
const probeFormatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset at an instant as Intl writes it ('GMT+05:45'): only compared, never used as a value. */
function probeOffset(zone: string, instantMs: number): string {
  let formatter = probeFormatters.get(zone);
  if (!formatter) probeFormatters.set(zone, (formatter = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })));
  const text = formatter.format(instantMs);
  return text.slice(text.lastIndexOf('GMT'));
}

/** The first instant in (low, high] whose probe differs from `before`, to the second (`low` has `before`). */
function firstChange(zone: string, low: number, high: number, before: string): number {
  // Changes are on whole minutes nearly always: bisect minutes first, then seconds within the minute.
  let lowMinute = Math.floor(low / MINUTE) * MINUTE;
  let highMinute = Math.ceil(high / MINUTE) * MINUTE;
  while (highMinute - lowMinute > MINUTE) {
    const middle = Math.floor((lowMinute + highMinute) / 2 / MINUTE) * MINUTE;
    if (probeOffset(zone, middle) === before) lowMinute = middle;
    else highMinute = middle;
  }
  let lowSecond = Math.max(lowMinute, low);
  let highSecond = Math.min(highMinute, high);
  if (probeOffset(zone, highSecond - SECOND) !== before) {
    while (highSecond - lowSecond > SECOND) {
      const middle = Math.floor((lowSecond + highSecond) / 2 / SECOND) * SECOND;
      if (probeOffset(zone, middle) === before) lowSecond = middle;
      else highSecond = middle;
    }
  }
  return highSecond;
}

function zoneYear(zone: string, year: number): ZoneYear {
  const cached = zoneYears.get(zone, year);
  if (cached) return cached;
  const start = wallClockMs(year, 1, 1);
  const end = wallClockMs(year + 1, 1, 1);
  const changes: ZoneYear['changes'] = [];
  let previousAt = start;
  let previous = probeOffset(zone, start);
  for (let sample = Math.min(start + SAMPLE_MS, end); ; sample = Math.min(sample + SAMPLE_MS, end)) {
    const probe = probeOffset(zone, sample);
    if (probe !== previous) {
      // A change exactly at the end of the year is listed here (offsetChangesBetween finds it), while
      // offsetAt asks the next year for that instant.
      const at = firstChange(zone, previousAt, sample, previous);
      changes.push({ at, offset: rawOffsetAt(zone, at) });
    }
    previousAt = sample;
    previous = probe;
    if (sample >= end) break;
  }
  const result = { startOffset: rawOffsetAt(zone, start), changes };
  zoneYears.set(zone, year, result);
  return result;
}

/**
 * The zone's UTC offset at an instant, in milliseconds (east positive): from the year's table when it
 * was built (bulk work such as counting fires builds it), otherwise one Intl call (one date does not
 * need a whole year: events and season boundaries scattered over 20 years cost 7 ms as tables).
 */
export function offsetAt(zone: string, instantMs: number): number {
  const floored = Math.floor(instantMs / SECOND) * SECOND;
  const table = zoneYears.get(zone, new Date(floored).getUTCFullYear());
  if (!table) return rawOffsetAt(zone, floored);
  let offset = table.startOffset;
  for (const change of table.changes) if (floored >= change.at) offset = change.offset;
  return offset;
}

/** Every instant in (fromMs, toMs] at which the zone's offset changes, in order. */
export function offsetChangesBetween(zone: string, fromMs: number, toMs: number): number[] {
  const found: number[] = [];
  if (toMs <= fromMs) return found;
  const lastYear = new Date(toMs).getUTCFullYear();
  for (let year = new Date(fromMs).getUTCFullYear(); year <= lastYear; year += 1) {
    for (const change of zoneYear(zone, year).changes) if (change.at > fromMs && change.at <= toMs) found.push(change.at);
  }
  return found;
}

export function instantToZoned(zone: string, date: Date): ZonedDateTime {
  const offset = offsetAt(zone, date.getTime());
  const local = new Date(Math.floor(date.getTime() / SECOND) * SECOND + offset);
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
    weekday: local.getUTCDay(),
    offsetMinutes: offset / 60_000,
  };
}

/**
 * The offsets around one local day: `before` until the instant `change`, `after` from it on.
 * Without a change, `before === after`.
 */
export interface DayOffsets {
  before: number;
  after: number;
  change?: number;
}

const dayOffsetCache = new ZoneCache<DayOffsets>(20_000);

/** Offsets in force around the local day that starts at wall-clock value `dayStart`. */
export function offsetsAroundDay(zone: string, dayStart: number): DayOffsets {
  const cached = dayOffsetCache.get(zone, dayStart);
  if (cached) return cached;
  const low = dayStart - WINDOW_MARGIN;
  const high = dayStart + DAY_MS + WINDOW_MARGIN;
  const before = offsetAt(zone, low);
  const after = offsetAt(zone, high);
  let result: DayOffsets = { before, after };
  if (before !== after) {
    // The first second at which the new offset is in force (at most one change in the window, see above).
    const tabled = [low, high].every((ms) => zoneYears.has(zone, new Date(ms).getUTCFullYear()));
    const change = tabled
      ? offsetChangesBetween(zone, low, high).find((at) => offsetAt(zone, at) === after)
      : firstChange(zone, low, high, probeOffset(zone, low));
    result = { before, after, change: change ?? high };
  }
  dayOffsetCache.set(zone, dayStart, result);
  return result;
}

/** The instant of a wall-clock value, given the offsets around its day (see the module comment). */
export function instantOf(wallClock: number, offsets: DayOffsets): number {
  const { before, after, change } = offsets;
  if (change === undefined) return wallClock - before;
  const early = wallClock - before;
  const late = wallClock - after;
  const earlyValid = early < change;
  const lateValid = late >= change;
  if (earlyValid && lateValid) return Math.min(early, late);
  if (earlyValid) return early;
  if (lateValid) return late;
  return change; // in the gap: the first instant after it
}

/** The instant at which the wall clock in `zone` shows this local date-time (DST rules above). */
export function zonedTimeToInstant(zone: string, local: LocalDateTime): Date {
  const wallClock = wallClockMs(local.year, local.month, local.day, local.hour, local.minute, local.second ?? 0);
  const dayStart = Math.floor(wallClock / DAY_MS) * DAY_MS;
  return new Date(instantOf(wallClock, offsetsAroundDay(zone, dayStart)));
}

/** The wall-clock value of local midnight of the day an instant falls on in `zone`. */
export function localDayStart(zone: string, instantMs: number): number {
  const wallClock = instantMs + offsetAt(zone, instantMs);
  return Math.floor(wallClock / DAY_MS) * DAY_MS;
}

const displayFormatters = new Map<string, Intl.DateTimeFormat>();

/** 'Dec 1 00:00' (or 'Dec 1, 2027 00:00' with `year`, 'Dec 1 00:00:37' with `seconds`), on the wall clock of `zone`. */
export function formatInZone(date: Date, zone: string, options: { year?: boolean; seconds?: boolean; locale?: string } = {}): string {
  const locale = options.locale ?? 'en-US';
  const key = `${zone}|${options.year ? 'y' : ''}|${options.seconds ? 's' : ''}|${locale}`;
  let formatter = displayFormatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(locale, {
      timeZone: zone,
      hourCycle: 'h23',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      ...(options.seconds ? { second: '2-digit' as const } : {}),
      ...(options.year ? { year: 'numeric' as const } : {}),
    });
    displayFormatters.set(key, formatter);
  }
  // Other languages in their own order ("1. Dez., 00:00", "12月1日 0:00"); English as the bot always wrote it.
  if (locale !== 'en-US') return formatter.format(date);
  const fields: Record<string, string> = {};
  for (const part of formatter.formatToParts(date)) fields[part.type] = part.value;
  const day = `${fields.month} ${fields.day}${options.year ? `, ${fields.year}` : ''}`;
  return `${day} ${fields.hour}:${fields.minute}${options.seconds ? `:${fields.second}` : ''}`;
}
