/**
 * Which avatar a user's schedules call for at a given instant, and when that next changes.
 * Pure: no I/O, no clock; every instant is passed in.
 *
 * The rules, in the words a user would use:
 * - Times are on the wall clock of the user's time zone (an IANA name, UTC by default). A local time
 *   skipped by a spring-forward jump happens at the first instant after the jump; a local time repeated
 *   by a fall-back jump happens at its first occurrence. Either way, once.
 * - Precedence: an active event beats a rotation, which beats a season, which beats the default image.
 *   Paused schedules are ignored. (Team branding will sit above all of these, outside this module.)
 * - Season `from`..`to` (MM-DD, both days included, may wrap the new year like 12-01..02-28): its image
 *   applies from 00:00 local on `from` until 00:00 local on the day after `to`. In a year without
 *   Feb 29, a season from 02-29 starts on 03-01 and one to 02-29 ends on 02-28, so a season of only
 *   02-29 happens in leap years alone. Among matching seasons the higher priority wins, then the one
 *   created later. Seasons recur every year whatever their createdAt.
 * - Rotation: active from its createdAt (the latest-created rotation wins). `hourly` = `0 * * * *`,
 *   `daily` = `0 0 * * *`, `weekly` = `0 0 * * 1` (Monday 00:00), or any cron expression (see cron.ts).
 *   A sequence rotation shows images[k mod n], k = its fires since createdAt, so every process derives
 *   the same image; it keeps counting while an event hides it. A random rotation shows the image the
 *   stored state says it last picked (images[0] before it picked any); each fire picks a new one with
 *   `nextRotationImage`, never the current one.
 * - Event `at`..`until` (local 'YYYY-MM-DD HH:MM', until exclusive) is active in between; when several
 *   are, the one that started last wins. An event without `until` is a one-shot change at `at`: its
 *   image stays until the image the other schedules call for next changes (a season boundary, a
 *   rotation fire, another event starting or ending), or a later one-shot event.
 * - A "change" is a change of image; a boundary where another rule takes over with the same image is
 *   not one.
 */
import { parseCron, countFires, nextFire, previousFire, shortestGapSeconds, type CronSpec } from './cron.js';
import { ScheduleError } from './errors.js';
import {
  DAY_MS,
  daysInMonth,
  instantToZoned,
  isLeapYear,
  localDayStart,
  offsetChangesBetween,
  validateTimeZone,
  wallClockDate,
  wallClockMs,
  zonedTimeToInstant,
  type LocalDateTime,
} from './zoned-time.js';

export { ScheduleError, type ScheduleErrorKind } from './errors.js';
export {
  formatInZone,
  instantToZoned,
  listTimeZones,
  searchTimeZones,
  validateTimeZone,
  zonedTimeToInstant,
  type LocalDateTime,
  type ZonedDateTime,
} from './zoned-time.js';
import { excerpt } from '../text.js';

// ---------------------------------------------------------------------------------------------
// Types

interface ScheduleBase {
  id: string;
  /** ISO instant; breaks ties (later wins) and anchors rotations. */
  createdAt: string;
  /** true: paused by the user; a SchedulePause: paused by the scheduler (the avatar was changed by hand on X). */
  paused?: boolean | SchedulePause;
}

/** Issue 12 item 4: why the scheduler paused a schedule (or the default image), and what X showed then. */
export interface SchedulePause {
  reason: 'hand-changed';
  at: string;
  /** The avatar URL X showed: resuming accepts it (the next change may replace it). */
  url: string;
}

export interface SeasonSchedule extends ScheduleBase {
  kind: 'season';
  /** A library image name. */
  image: string;
  /** 'MM-DD', first day included. */
  from: string;
  /** 'MM-DD', last day included. */
  to: string;
  /** Higher wins; 0 when missing. */
  priority?: number;
}

export type RotationEvery = 'hourly' | 'daily' | 'weekly' | (string & {});

export interface RotationSchedule extends ScheduleBase {
  kind: 'rotation';
  images: string[];
  every: RotationEvery;
  order: 'sequence' | 'random';
}

export interface EventSchedule extends ScheduleBase {
  kind: 'event';
  image: string;
  /** 'YYYY-MM-DD HH:MM' in the user's time zone, as typed. */
  at: string;
  /** 'YYYY-MM-DD HH:MM', exclusive; without it the event is a one-shot change. */
  until?: string;
  /**
   * The instants (ISO, UTC) the event was pinned to when it was created: an event is a moment, so a later
   * change of time zone neither moves nor repeats it. Events stored before these existed have neither and
   * are read on the wall clock of the current zone (`pinEvents` pins them before the zone changes).
   */
  atUtc?: string;
  untilUtc?: string;
}

export type Schedule = SeasonSchedule | RotationSchedule | EventSchedule;

export interface RotationState {
  /** The image the rotation last set. */
  current?: string;
  /** ISO instant of that change. */
  lastChangedAt?: string;
}

export interface UserSchedules {
  /** IANA zone name; UTC when missing. */
  timezone?: string;
  defaultImage?: string;
  /** The default image stopped deciding the avatar (it has no schedule to carry `paused`). */
  defaultPaused?: SchedulePause;
  schedules: Schedule[];
  /** By rotation id. */
  rotationState?: Record<string, RotationState>;
}

export type ImageSource = { kind: Schedule['kind']; id: string } | { kind: 'default' };

export interface ActiveImage {
  /** undefined: nothing scheduled and no default image. */
  image: string | undefined;
  source: ImageSource | undefined;
}

export interface NextChange extends ActiveImage {
  at: Date;
  /** A random rotation fires: `image` is undefined, pick it with `nextRotationImage` at that moment. */
  pickedAtRandom: boolean;
}

export interface Preview extends ActiveImage {
  /** 12:00 local on the day asked about. */
  at: Date;
  /** Which rule decides (the season 12-01 to 02-28, …). */
  rule: Rule;
}

/** What decides an image, for the words of /schedule preview and of scheduled-change notices. */
export type Rule =
  | { kind: 'none' }
  | { kind: 'default' }
  | { kind: 'season'; from: string; to: string; priority: number }
  | { kind: 'rotation'; every: string; order: 'sequence' | 'random'; images: number }
  | { kind: 'event'; at: string; until?: string }
  | { kind: 'team-season'; from: string; to: string }
  | { kind: 'unknown' };

export const DEFAULT_TIMEZONE = 'UTC';
export const DEFAULT_MIN_INTERVAL_MS = 15 * 60_000;
export const NEXT_CHANGE_HORIZON_DAYS = 400;

/**
 * Bounds on what users type, checked before any work: every date from 2020-01-01 to 2099-12-31 (stored
 * records included), and a date typed in a command at most MAX_YEARS_AHEAD years from now. Counting a
 * rotation's fires over that whole span costs a few milliseconds (test/adversarial/parsers.test.ts).
 */
export const EARLIEST_YEAR = 2020;
export const LATEST_YEAR = 2099;
export const MAX_YEARS_AHEAD = 10;
/** Schedules per user, images per rotation (the library holds 50) and the length of an image name. */
export const MAX_SCHEDULES = 20;
export const MAX_ROTATION_IMAGES = 50;
export const MAX_IMAGE_NAME_LENGTH = 32;

const PRESETS: Record<string, string> = { hourly: '0 * * * *', daily: '0 0 * * *', weekly: '0 0 * * 1' };

// ---------------------------------------------------------------------------------------------
// Parsing what users type

export interface MonthDay {
  month: number;
  day: number;
}

/** '12-01' → { month: 12, day: 1 }; 02-29 is allowed. `field` names the option in the error. */
export function parseMonthDay(text: string, field = 'date'): MonthDay {
  const match = /^(\d{1,2})-(\d{1,2})$/.exec(text.trim());
  if (!match) throw new ScheduleError('invalid-date', { option: field }, { variant: 'month-day-format' });
  const month = Number(match[1]);
  const day = Number(match[2]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(2000, month)) {
    throw new ScheduleError('invalid-date', { option: field, text: excerpt(text) }, { variant: 'month-day' });
  }
  return { month, day };
}

function checkYear(year: number, field: string, text: string): void {
  if (year < EARLIEST_YEAR || year > LATEST_YEAR) {
    throw new ScheduleError('invalid-date', { option: field, text: text.trim(), earliest: EARLIEST_YEAR, latest: LATEST_YEAR }, { variant: 'out-of-range' });
  }
}

/** The latest instant a command accepts: the same day and time MAX_YEARS_AHEAD years after `now` (UTC). */
export function latestAccepted(now: Date): Date {
  const latest = new Date(now.getTime());
  latest.setUTCFullYear(latest.getUTCFullYear() + MAX_YEARS_AHEAD);
  return latest;
}

/** Refuses a date typed in a command that lies more than MAX_YEARS_AHEAD years ahead. */
export function checkNotTooFarAhead(field: string, at: Date, now: Date): void {
  const latest = latestAccepted(now);
  if (at.getTime() > latest.getTime()) {
    throw new ScheduleError('invalid-date', { option: field, years: MAX_YEARS_AHEAD, latest: latest.toISOString().slice(0, 10) }, { variant: 'too-far' });
  }
}

/** '2026-12-24 18:00' (or with a T) → its parts. `field` names the option in the error. */
export function parseLocalDateTime(text: string, field = 'date'): LocalDateTime {
  const match = /^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!match) throw new ScheduleError('invalid-date', { option: field }, { variant: 'date-time-format' });
  const [year, month, day, hour, minute] = match.slice(1).map(Number) as [number, number, number, number, number];
  checkYear(year, field, text);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59) {
    throw new ScheduleError('invalid-date', { option: field, text: excerpt(text) }, { variant: 'date-time' });
  }
  return { year, month, day, hour, minute };
}

/** '2026-12-24' → its parts. */
export function parseLocalDate(text: string, field = 'date'): { year: number; month: number; day: number } {
  const match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(text.trim());
  if (!match) throw new ScheduleError('invalid-date', { option: field }, { variant: 'date-format' });
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  checkYear(year, field, text);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new ScheduleError('invalid-date', { option: field, text: excerpt(text) }, { variant: 'date' });
  }
  return { year, month, day };
}

/** The cron expression behind a rotation's `every`. */
export function rotationCron(every: RotationEvery): string {
  return PRESETS[every] ?? every;
}

/** Checks a cron expression; throws ScheduleError('invalid-cron') naming the wrong field. */
export function validateCron(expression: string): void {
  parseCron(expression);
}

const EARLIEST_MS = Date.UTC(EARLIEST_YEAR, 0, 1);
const LATEST_MS = Date.UTC(LATEST_YEAR + 1, 0, 1);

function createdAtMs(schedule: Schedule): number {
  const ms = Date.parse(schedule.createdAt);
  if (Number.isNaN(ms) || ms < EARLIEST_MS || ms >= LATEST_MS) throw new ScheduleError('invalid-date', { id: schedule.id }, { variant: 'broken-creation' });
  return ms;
}

/** Throws the ScheduleError a user should see if this schedule cannot be kept. */
export function validateSchedule(schedule: Schedule, timezone: string = DEFAULT_TIMEZONE): void {
  createdAtMs(schedule);
  for (const image of schedule.kind === 'rotation' ? schedule.images : [schedule.image]) {
    if (image.length > MAX_IMAGE_NAME_LENGTH) throw new ScheduleError('too-many', { max: MAX_IMAGE_NAME_LENGTH }, { variant: 'image-name' });
  }
  switch (schedule.kind) {
    case 'season':
      parseMonthDay(schedule.from, 'from');
      parseMonthDay(schedule.to, 'to');
      if (schedule.priority !== undefined && !Number.isFinite(schedule.priority)) {
        throw new ScheduleError('invalid-priority');
      }
      return;
    case 'rotation':
      if (schedule.images.length === 0) throw new ScheduleError('empty-rotation');
      if (schedule.images.length > MAX_ROTATION_IMAGES) {
        throw new ScheduleError('too-many', { max: MAX_ROTATION_IMAGES, count: schedule.images.length }, { variant: 'rotation' });
      }
      parseCron(rotationCron(schedule.every));
      return;
    case 'event': {
      const { atMs, untilMs } = eventInstants(schedule, validateTimeZone(timezone));
      if (untilMs !== undefined && untilMs <= atMs) {
        throw new ScheduleError('invalid-date', {}, { variant: 'until-before-at' });
      }
      return;
    }
  }
}

/** Refuses one schedule more than a user may have. */
export function checkScheduleCount(state: UserSchedules): void {
  if (state.schedules.length >= MAX_SCHEDULES) {
    throw new ScheduleError('too-many', { max: MAX_SCHEDULES });
  }
}

// ---------------------------------------------------------------------------------------------
// Events: moments in time

function pinnedMs(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms) || ms < EARLIEST_MS || ms >= LATEST_MS) throw new ScheduleError('invalid-date', { option: field }, { variant: 'broken-event' });
  return ms;
}

/** An event's instants: the pinned ones, or (events stored before pinning) its wall clock in `zone`. */
function eventInstants(event: EventSchedule, zone: string): { atMs: number; untilMs: number | undefined } {
  const atMs = event.atUtc !== undefined ? pinnedMs(event.atUtc, 'at') : zonedTimeToInstant(zone, parseLocalDateTime(event.at, 'at')).getTime();
  const untilMs =
    event.untilUtc !== undefined
      ? pinnedMs(event.untilUtc, 'until')
      : event.until === undefined
        ? undefined
        : zonedTimeToInstant(zone, parseLocalDateTime(event.until, 'until')).getTime();
  return { atMs, untilMs };
}

/**
 * A new event as typed in `timezone`, pinned to its instants. Refused when it is over already (its
 * `until` has passed), or more than MAX_YEARS_AHEAD years ahead; one that started in the past starts
 * now (`startsNow`), so it neither replays a past moment nor jumps ahead of events that started since.
 */
export function createEvent(
  input: Pick<EventSchedule, 'id' | 'createdAt' | 'image' | 'at' | 'until'>,
  timezone: string,
  now: Date,
): { event: EventSchedule; startsNow: boolean } {
  const zone = validateTimeZone(timezone);
  const unpinned: EventSchedule = { kind: 'event', ...input };
  validateSchedule(unpinned, zone);
  const { atMs, untilMs } = eventInstants(unpinned, zone);
  checkNotTooFarAhead('at', new Date(atMs), now);
  if (untilMs !== undefined) checkNotTooFarAhead('until', new Date(untilMs), now);
  if (untilMs !== undefined && untilMs <= now.getTime()) {
    throw new ScheduleError('invalid-date', { until: String(input.until), zone }, { variant: 'over' });
  }
  const startsNow = atMs < now.getTime();
  const pinnedAt = Math.max(atMs, now.getTime());
  const event: EventSchedule = { ...unpinned, atUtc: new Date(pinnedAt).toISOString(), ...(untilMs === undefined ? {} : { untilUtc: new Date(untilMs).toISOString() }) };
  return { event, startsNow };
}

/** Pins events stored as wall clock (before events were instants) in the current zone; call before the zone changes. */
export function pinEvents(state: UserSchedules): void {
  const zone = validateTimeZone(state.timezone ?? DEFAULT_TIMEZONE);
  for (const schedule of state.schedules) {
    if (schedule.kind !== 'event' || schedule.atUtc !== undefined) continue;
    const { atMs, untilMs } = eventInstants(schedule, zone);
    schedule.atUtc = new Date(atMs).toISOString();
    if (untilMs !== undefined) schedule.untilUtc = new Date(untilMs).toISOString();
  }
}

const localText = (ms: number, zone: string) => {
  const { year, month, day, hour, minute } = instantToZoned(zone, new Date(ms));
  const two = (value: number) => String(value).padStart(2, '0');
  return `${year}-${two(month)}-${two(day)} ${two(hour)}:${two(minute)}`;
};

/** An event's start and end as 'YYYY-MM-DD HH:MM' on the wall clock of `timezone` (where it happens now). */
export function eventTimes(event: EventSchedule, timezone: string | undefined): { at: string; until?: string } {
  const zone = validateTimeZone(timezone ?? DEFAULT_TIMEZONE);
  if (event.atUtc === undefined) return { at: event.at, ...(event.until === undefined ? {} : { until: event.until }) };
  const { atMs, untilMs } = eventInstants(event, zone);
  return { at: localText(atMs, zone), ...(untilMs === undefined ? {} : { until: localText(untilMs, zone) }) };
}

// ---------------------------------------------------------------------------------------------
// Rotations and the minimum interval

/**
 * The image a rotation sets when it fires. Sequence: the one after `currentImage` in the list,
 * wrapping (the first when the current one is not in the list). Random: any image other than the
 * current one, chosen with `random` (a function like Math.random returning [0, 1)).
 */
export function nextRotationImage(rotation: Pick<RotationSchedule, 'images' | 'order'>, currentImage: string | undefined, random: () => number): string {
  const { images } = rotation;
  const first = images[0];
  if (first === undefined) throw new ScheduleError('empty-rotation');
  if (rotation.order === 'sequence') {
    const index = currentImage === undefined ? -1 : images.indexOf(currentImage);
    return images[(index + 1) % images.length] ?? first;
  }
  const choices = images.filter((image) => image !== currentImage);
  if (choices.length === 0) return first;
  const pick = Math.min(Math.floor(random() * choices.length), choices.length - 1);
  return choices[Math.max(pick, 0)] ?? first;
}

/**
 * Refuses a rotation that would change the avatar more often than `minIntervalMs`, judged on the
 * shortest wall-clock gap between two fires of its cron (see `shortestGapSeconds`). Seasons and events
 * pass.
 */
export function checkMinimumInterval(schedule: Schedule, minIntervalMs: number = DEFAULT_MIN_INTERVAL_MS): void {
  if (schedule.kind !== 'rotation') return;
  const gapMs = shortestGapSeconds(parseCron(rotationCron(schedule.every))) * 1000;
  if (gapMs < minIntervalMs) {
    throw new ScheduleError('too-frequent', { gapMs, minMs: minIntervalMs });
  }
}

/**
 * Fire instants of a rotation's `every` (preset or cron) on the wall clock of `zone`: strictly after
 * `after`, at most `limit` of them, none after `until` when given.
 */
export function cronFiresAfter(every: RotationEvery, timezone: string, after: Date, limit: number, until?: Date): Date[] {
  const spec = parseCron(rotationCron(every));
  const zone = validateTimeZone(timezone);
  const fires: Date[] = [];
  let cursor = after.getTime();
  while (fires.length < limit) {
    const next = nextFire(spec, zone, cursor, until?.getTime());
    if (next === undefined) break;
    fires.push(new Date(next));
    cursor = next;
  }
  return fires;
}

/** The rotation's last fire at or before `at` (for catching up a random rotation after downtime). */
export function previousRotationFire(rotation: RotationSchedule, timezone: string | undefined, at: Date): Date | undefined {
  const created = createdAtMs(rotation);
  const fire = previousFire(parseCron(rotationCron(rotation.every)), validateTimeZone(timezone ?? DEFAULT_TIMEZONE), at.getTime(), created);
  return fire === undefined || fire <= created ? undefined : new Date(fire);
}

// ---------------------------------------------------------------------------------------------
// Seasons

const monthDayKey = ({ month, day }: MonthDay) => month * 100 + day;

/** A season's bound as a MMDD number in `year`, moving 02-29 to 03-01 (start) or 02-28 (end) in common years. */
function boundIn(bound: MonthDay, year: number, edge: 'start' | 'end'): number {
  if (bound.month === 2 && bound.day === 29 && !isLeapYear(year)) return edge === 'start' ? 301 : 228;
  return monthDayKey(bound);
}

function seasonCoversDay(from: MonthDay, to: MonthDay, year: number, month: number, day: number): boolean {
  const key = month * 100 + day;
  const start = boundIn(from, year, 'start');
  const end = boundIn(to, year, 'end');
  return monthDayKey(from) > monthDayKey(to) ? key >= start || key <= end : key >= start && key <= end;
}

/**
 * The occurrence of a season that starts in `year`: from 00:00 local on its first day to 00:00 local
 * on the day after its last (exclusive). undefined for a 02-29-only season in a common year.
 */
export function seasonBoundaries(season: Pick<SeasonSchedule, 'from' | 'to'>, timezone: string, year: number): { start: Date; end: Date } | undefined {
  const zone = validateTimeZone(timezone);
  const from = parseMonthDay(season.from, 'from');
  const to = parseMonthDay(season.to, 'to');
  const wraps = monthDayKey(from) > monthDayKey(to);
  const start = boundIn(from, year, 'start');
  const endYear = wraps ? year + 1 : year;
  const end = boundIn(to, endYear, 'end');
  if (!wraps && start > end) return undefined;
  const dayAfterEnd = wallClockDate(wallClockMs(endYear, Math.floor(end / 100), end % 100) + DAY_MS);
  return {
    start: zonedTimeToInstant(zone, { year, month: Math.floor(start / 100), day: start % 100, hour: 0, minute: 0 }),
    end: zonedTimeToInstant(zone, { ...dayAfterEnd, hour: 0, minute: 0 }),
  };
}

// ---------------------------------------------------------------------------------------------
// Resolution

interface Compiled<S extends Schedule> {
  schedule: S;
  /** Position in the user's list: the last tie-break. */
  index: number;
  createdAtMs: number;
}
interface CompiledSeason extends Compiled<SeasonSchedule> {
  from: MonthDay;
  to: MonthDay;
  priority: number;
}
interface CompiledRotation extends Compiled<RotationSchedule> {
  spec: CronSpec;
  distinctImages: number;
}
interface CompiledEvent extends Compiled<EventSchedule> {
  atMs: number;
  untilMs: number | undefined;
}

interface Context {
  state: UserSchedules;
  zone: string;
  seasons: CompiledSeason[];
  rotations: CompiledRotation[];
  timedEvents: CompiledEvent[];
  oneShots: CompiledEvent[];
  /** Fires counted so far per sequence rotation, so walking forward does not recount from createdAt. */
  fireCounts: Map<CompiledRotation, { atMs: number; count: number }>;
  /** How far we looked for the end of a one-shot event, and what we found. */
  oneShotEnds: Map<CompiledEvent, { searchedUntil: number; end: number | undefined }>;
}

/**
 * Compiled contexts by state object. Callers treat a read record as immutable (the stores hand out
 * fresh copies), so asking first which image is active and then when it next changes compiles once
 * and counts a rotation's fires once (the memo carries over).
 */
const compiled = new WeakMap<UserSchedules, Context>();

function compile(state: UserSchedules): Context {
  let context = compiled.get(state);
  if (!context) {
    context = compileFresh(state);
    compiled.set(state, context);
  }
  return context;
}

function compileFresh(state: UserSchedules): Context {
  const zone = validateTimeZone(state.timezone ?? DEFAULT_TIMEZONE);
  const context: Context = { state, zone, seasons: [], rotations: [], timedEvents: [], oneShots: [], fireCounts: new Map(), oneShotEnds: new Map() };
  state.schedules.forEach((schedule, index) => {
    validateSchedule(schedule, zone);
    if (schedule.paused) return;
    // Properties written out, not spread from a shared base: the spreads were a sixth of the engine's time
    // in a restore of 100,000 schedules.
    const created = createdAtMs(schedule);
    switch (schedule.kind) {
      case 'season':
        context.seasons.push({ index, createdAtMs: created, schedule, from: parseMonthDay(schedule.from), to: parseMonthDay(schedule.to), priority: schedule.priority ?? 0 });
        break;
      case 'rotation':
        context.rotations.push({ index, createdAtMs: created, schedule, spec: parseCron(rotationCron(schedule.every)), distinctImages: new Set(schedule.images).size });
        break;
      case 'event': {
        const { atMs, untilMs } = eventInstants(schedule, zone);
        (untilMs === undefined ? context.oneShots : context.timedEvents).push({ index, createdAtMs: created, schedule, atMs, untilMs });
        break;
      }
    }
  });
  return context;
}

/** The candidate with the greatest key; keys compare element by element. */
function latest<T>(items: T[], key: (item: T) => number[]): T | undefined {
  let best: T | undefined;
  let bestKey: number[] = [];
  for (const item of items) {
    const itemKey = key(item);
    const index = itemKey.findIndex((value, position) => value !== bestKey[position]);
    if (best === undefined || (index >= 0 && (itemKey[index] as number) > (bestKey[index] as number))) {
      best = item;
      bestKey = itemKey;
    }
  }
  return best;
}

function sequenceFires(context: Context, rotation: CompiledRotation, atMs: number): number {
  const memo = context.fireCounts.get(rotation);
  const count =
    memo && memo.atMs <= atMs
      ? memo.count + countFires(rotation.spec, context.zone, memo.atMs, atMs)
      : countFires(rotation.spec, context.zone, rotation.createdAtMs, atMs);
  context.fireCounts.set(rotation, { atMs, count });
  return count;
}

function rotationImageAt(context: Context, rotation: CompiledRotation, atMs: number): string | undefined {
  const { images, order, id } = rotation.schedule;
  if (order === 'random') {
    const current = context.state.rotationState?.[id]?.current;
    return current !== undefined && images.includes(current) ? current : images[0];
  }
  return images[sequenceFires(context, rotation, atMs) % images.length];
}

/** What the schedules call for at an instant, leaving out one-shot events. */
function resolveBase(context: Context, atMs: number): ActiveImage {
  const event = latest(
    context.timedEvents.filter((candidate) => candidate.atMs <= atMs && atMs < (candidate.untilMs as number)),
    (candidate) => [candidate.atMs, candidate.createdAtMs, candidate.index],
  );
  if (event) return { image: event.schedule.image, source: { kind: 'event', id: event.schedule.id } };
  const rotation = latest(
    context.rotations.filter((candidate) => candidate.createdAtMs <= atMs),
    (candidate) => [candidate.createdAtMs, candidate.index],
  );
  if (rotation) return { image: rotationImageAt(context, rotation, atMs), source: { kind: 'rotation', id: rotation.schedule.id } };
  if (context.seasons.length > 0) {
    const { year, month, day } = wallClockDate(localDayStart(context.zone, atMs));
    const season = latest(
      context.seasons.filter((candidate) => seasonCoversDay(candidate.from, candidate.to, year, month, day)),
      (candidate) => [candidate.priority, candidate.createdAtMs, candidate.index],
    );
    if (season) return { image: season.schedule.image, source: { kind: 'season', id: season.schedule.id } };
  }
  if (context.state.defaultImage !== undefined && !context.state.defaultPaused) return { image: context.state.defaultImage, source: { kind: 'default' } };
  return { image: undefined, source: undefined };
}

/** The first instant in (event.at, atMs] at which the other schedules change the image, if any. */
function oneShotEnd(context: Context, event: CompiledEvent, atMs: number): number | undefined {
  const memo = context.oneShotEnds.get(event) ?? { searchedUntil: event.atMs, end: undefined };
  if (memo.end === undefined && memo.searchedUntil < atMs) {
    memo.end = walk(context, resolveBase, memo.searchedUntil, atMs)?.at;
    memo.searchedUntil = atMs;
    context.oneShotEnds.set(event, memo);
  }
  return memo.end !== undefined && memo.end <= atMs ? memo.end : undefined;
}

function resolve(context: Context, atMs: number): ActiveImage {
  const oneShot = latest(
    context.oneShots.filter((candidate) => candidate.atMs <= atMs),
    (candidate) => [candidate.atMs, candidate.createdAtMs, candidate.index],
  );
  if (oneShot && oneShotEnd(context, oneShot, atMs) === undefined) {
    return { image: oneShot.schedule.image, source: { kind: 'event', id: oneShot.schedule.id } };
  }
  return resolveBase(context, atMs);
}

const sameSource = (a: ImageSource | undefined, b: ImageSource | undefined) =>
  a?.kind === b?.kind && (a === undefined || a.kind === 'default' || (b !== undefined && b.kind !== 'default' && a.id === b.id));

/**
 * The first instant in (afterMs, limitMs] at which `resolver`'s image changes. The image can only
 * change at a season boundary, an event's start or end, a rotation's creation or a rotation's fire;
 * fires of a rotation that something else hides are skipped up to the next other boundary.
 */
function walk(
  context: Context,
  resolver: (context: Context, atMs: number) => ActiveImage,
  afterMs: number,
  limitMs: number,
): { at: number; resolved: ActiveImage; pickedAtRandom: boolean } | undefined {
  const firstYear = instantToZoned(context.zone, new Date(afterMs)).year - 1;
  const lastYear = instantToZoned(context.zone, new Date(limitMs)).year + 1;
  const boundaries = new Set<number>();
  for (const event of context.timedEvents) boundaries.add(event.atMs).add(event.untilMs as number);
  for (const rotation of context.rotations) boundaries.add(rotation.createdAtMs);
  if (resolver === resolve) for (const event of context.oneShots) boundaries.add(event.atMs);
  let fixed = [...boundaries].filter((at) => at > afterMs && at <= limitMs).sort((a, b) => a - b);
  let nextFixed = 0;

  // Season boundaries are added a year at a time as the walk gets there: most walks end within days,
  // and 50 seasons over 27 years (a one-shot event long ago) cost 60 ms when made up front.
  let seasonsUpTo = context.seasons.length === 0 ? lastYear : firstYear - 1;
  /** Every season boundary before this instant is in `fixed` (an occurrence starting later starts after it). */
  const seasonsCompleteUntil = () => (seasonsUpTo >= lastYear ? Infinity : Date.UTC(seasonsUpTo + 1, 0, 1) - DAY_MS);
  const addSeasonsUntil = (atMs: number) => {
    const added = new Set(fixed.slice(nextFixed));
    while (seasonsCompleteUntil() < atMs) {
      seasonsUpTo += 1;
      // Many boundaries in one year: its table of offset changes is cheaper than asking Intl per day.
      offsetChangesBetween(context.zone, Date.UTC(seasonsUpTo, 0, 1) - DAY_MS, Date.UTC(seasonsUpTo + 1, 0, 1) + DAY_MS);
      for (const season of context.seasons) {
        const occurrence = seasonBoundaries(season.schedule, context.zone, seasonsUpTo);
        if (!occurrence) continue;
        for (const at of [occurrence.start.getTime(), occurrence.end.getTime()]) if (at > afterMs && at <= limitMs) added.add(at);
      }
    }
    fixed = [...added].sort((a, b) => a - b);
    nextFixed = 0;
  };

  const fireAfter = (rotation: CompiledRotation, fromMs: number) => nextFire(rotation.spec, context.zone, Math.max(fromMs, rotation.createdAtMs), limitMs);
  const cursors = new Map<CompiledRotation, number | undefined>();
  for (const rotation of context.rotations) if (rotation.distinctImages > 1) cursors.set(rotation, fireAfter(rotation, afterMs));

  let current = resolver(context, afterMs);
  const nextAt = () => {
    let at = fixed[nextFixed] ?? Infinity;
    for (const fire of cursors.values()) if (fire !== undefined && fire < at) at = fire;
    return at;
  };
  for (;;) {
    let at = nextAt();
    if (at > seasonsCompleteUntil()) {
      addSeasonsUntil(Math.min(at, limitMs));
      at = nextAt();
    }
    if (at === Infinity || at > limitMs) return undefined;
    if (fixed[nextFixed] === at) nextFixed += 1;

    const resolved = resolver(context, at);
    const firing = [...cursors].filter(([, fire]) => fire === at).map(([rotation]) => rotation);
    const shown = firing.find((rotation) => resolved.source?.kind === 'rotation' && sameSource(resolved.source, { kind: 'rotation', id: rotation.schedule.id }));
    if (shown?.schedule.order === 'random') return { at, resolved: { image: undefined, source: resolved.source }, pickedAtRandom: true };
    if (resolved.image !== current.image) return { at, resolved, pickedAtRandom: false };

    // Fires of a rotation the base rules do not show cannot matter before the next other boundary.
    const base = resolver === resolveBase ? resolved : resolveBase(context, at);
    const following = fixed[nextFixed];
    for (const rotation of firing) {
      const live = sameSource(base.source, { kind: 'rotation', id: rotation.schedule.id });
      cursors.set(rotation, live ? fireAfter(rotation, at) : following === undefined ? undefined : fireAfter(rotation, following - 1));
    }
    current = resolved;
  }
}

/** The image the user's schedules call for at an instant, and which rule decides it. */
export function activeImageAt(state: UserSchedules, at: Date): ActiveImage {
  return resolve(compile(state), at.getTime());
}

/**
 * The next instant strictly after `after` at which the active image changes, looking at most
 * `horizonDays` ahead (400 by default); undefined when nothing changes in that time.
 */
export function nextChangeAt(state: UserSchedules, after: Date, options: { horizonDays?: number } = {}): NextChange | undefined {
  const context = compile(state);
  const afterMs = after.getTime();
  const found = walk(context, resolve, afterMs, afterMs + (options.horizonDays ?? NEXT_CHANGE_HORIZON_DAYS) * DAY_MS);
  return found && { at: new Date(found.at), ...found.resolved, pickedAtRandom: found.pickedAtRandom };
}

/**
 * Which rule decides an image, as data: the edges put it in words (src/i18n/schedule-words.ts). An
 * event's times are on the wall clock of the user's current zone.
 */
export function ruleOf(state: Pick<UserSchedules, 'schedules' | 'timezone'>, source: ImageSource | undefined): Rule {
  if (source === undefined) return { kind: 'none' };
  if (source.kind === 'default') return { kind: 'default' };
  const schedule = state.schedules.find((candidate) => candidate.kind === source.kind && candidate.id === source.id);
  switch (schedule?.kind) {
    case 'season':
      return { kind: 'season', from: schedule.from, to: schedule.to, priority: schedule.priority ?? 0 };
    case 'rotation':
      return { kind: 'rotation', every: schedule.every, order: schedule.order === 'random' ? 'random' : 'sequence', images: schedule.images.length };
    case 'event': {
      const { at, until } = eventTimes(schedule, state.timezone);
      return until === undefined ? { kind: 'event', at } : { kind: 'event', at, until };
    }
    default:
      return { kind: 'unknown' };
  }
}

/**
 * Which image would be active at 12:00 local on a day ('YYYY-MM-DD'), and the rule that decides it.
 * With `now`, a day more than MAX_YEARS_AHEAD years ahead is refused (commands pass it).
 */
export function previewDate(state: UserSchedules, date: string, now?: Date): Preview {
  const day = parseLocalDate(date);
  const context = compile(state);
  const at = zonedTimeToInstant(context.zone, { ...day, hour: 12, minute: 0 });
  // The day counts, not its noon: the last day accepted is the one ten years from today.
  if (now) checkNotTooFarAhead('date', zonedTimeToInstant(context.zone, { ...day, hour: 0, minute: 0 }), now);
  const resolved = resolve(context, at.getTime());
  return { at, ...resolved, rule: ruleOf(context.state, resolved.source) };
}
