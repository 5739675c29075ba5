/**
 * What the scheduler does next for one member, worked out from the stored record alone, so that the
 * scheduler's timer and what `/schedule list` shows are the same instant: the next change the schedules
 * and team seasons call for, held back by the minimum interval since the last change and by a pending
 * retry (after a rate limit or X being down). Pure: no I/O, no clock.
 */
import { createHash } from 'node:crypto';
import type { ScheduleRecord } from './store.js';
import { activeImageAt, nextChangeAt, type SeasonSchedule } from './engine.js';

export type Team = { guildId: string; seasons: SeasonSchedule[] };

/** Team seasons are kept on UTC days. */
export const TEAM_TIMEZONE = 'UTC';

/** What a team image is remembered as in `applied`: `team:<guild>/<name>` (stored: never changes). */
export const teamImageKey = (guildId: string, image: string) => `team:${guildId}/${image}`;

/** The first active team season among the member's servers: it takes precedence over personal schedules. */
export function activeTeamSeason(teams: Team[], at: Date): { guildId: string; image: string; season: SeasonSchedule } | undefined {
  for (const team of teams) {
    const active = activeImageAt({ timezone: TEAM_TIMEZONE, schedules: team.seasons }, at);
    const season = team.seasons.find((candidate) => active.source && 'id' in active.source && candidate.id === active.source.id);
    if (active.image && season) return { guildId: team.guildId, image: active.image, season };
  }
  return undefined;
}

/**
 * How long after a rule's instant this user's changes happen: whole seconds in [0, window). The spread of
 * issue 12: 2,000 users whose season starts at the same local midnight would otherwise all upload in its
 * first second. From a hash of the Discord id, not the id itself: a snowflake's low bits are a worker,
 * process and counter (ids made close together differ only there), so `id mod window` bunches; SHA-256
 * of the id is uniform, needs no stored rank, and is the same in every process and after every restart,
 * so each process plans, arms and leases the same instant. Whole seconds because timers fire on whole
 * seconds (timers.ts): a fraction would be rounded up, past the window's end for the last second.
 */
export function spreadOffsetMs(discordUserId: string, windowMs: number): number {
  const slots = Math.floor(windowMs / 1000);
  if (slots <= 1) return 0;
  const hash = createHash('sha256').update(discordUserId).digest().readUInt32BE(0);
  return Math.floor((hash / 2 ** 32) * slots) * 1000;
}

/**
 * The instant a user's rules are read at when it is `now` for the scheduler: the spread in one place. A
 * user's schedules, team seasons and kits all run `offsetMs` behind the rules' clock, so every path that
 * asks what is due (a timer's fire, the catch-up after a restart, an edit, /schedule list) sees a
 * boundary at the same spread instant; only the holds (the minimum interval, a retry) stay on the real clock.
 */
export const rulesNow = (nowMs: number, offsetMs: number): Date => new Date(nowMs - offsetMs);

export interface PlannedChange {
  at: Date;
  /** The image then (a team season's image is named by its season); undefined for a random pick. */
  image: string | undefined;
  pickedAtRandom: boolean;
  /** Why it is later than the schedules say: the minimum interval, or a retry after a failure. */
  heldBack?: 'minimum-interval' | 'retry';
  /** Moved by the user's spread offset (`at` is then the rule's instant plus the offset, to the second). */
  spread?: true;
}

/** The earliest instant the next change may be applied: the minimum interval after the last one, and any pending retry. */
export function notBeforeMs(record: ScheduleRecord, minIntervalMs: number): number {
  const lastChange = record.applied ? Date.parse(record.applied.at) + minIntervalMs : -Infinity;
  const retry = record.retry ? Date.parse(record.retry.at) : -Infinity;
  return Math.max(lastChange, retry);
}

function heldBackBy(record: ScheduleRecord, minIntervalMs: number): PlannedChange['heldBack'] {
  const retry = record.retry ? Date.parse(record.retry.at) : -Infinity;
  return retry >= notBeforeMs(record, minIntervalMs) ? 'retry' : 'minimum-interval';
}

/** What should be applied at `at`: the key remembered in `applied`, and how it reads. */
function targetAt(record: ScheduleRecord, teams: Team[], at: Date): { key: string | undefined; image: string | undefined } {
  const team = activeTeamSeason(teams, at);
  if (team) return { key: teamImageKey(team.guildId, team.image), image: `the team season ${team.season.from}..${team.season.to}` };
  if (record.schedules.length === 0 && record.defaultImage === undefined) return { key: undefined, image: undefined };
  const { image } = activeImageAt(record, at);
  return { key: image, image };
}

/**
 * The change the scheduler will really make next, and when: undefined when nothing is planned (suspended,
 * or nothing changes within the engine's horizon). A change that is due but held back happens at the end
 * of the hold; a later one no sooner than that either. `offsetMs`: the user's spread (`spreadOffsetMs`):
 * the rules are read at `now - offsetMs` and their next instant is moved by it.
 */
export function plannedChange(record: ScheduleRecord, teams: Team[], now: Date, minIntervalMs: number, offsetMs = 0): PlannedChange | undefined {
  if (record.suspended) return undefined;
  const notBefore = notBeforeMs(record, minIntervalMs);
  const rules = rulesNow(now.getTime(), offsetMs);
  const due = targetAt(record, teams, rules);
  if (due.key !== undefined && due.key !== record.applied?.image && now.getTime() < notBefore) {
    return { at: new Date(notBefore), image: due.image, pickedAtRandom: false, heldBack: heldBackBy(record, minIntervalMs) };
  }
  // While a team season is active the member's own changes do not show: its end is what comes next.
  const personal = !activeTeamSeason(teams, rules) && record.schedules.some((schedule) => !schedule.paused) ? nextChangeAt(record, rules) : undefined;
  const teamChanges = teams.map((team) => nextChangeAt({ timezone: TEAM_TIMEZONE, schedules: team.seasons }, rules)?.at.getTime()).filter((at): at is number => at !== undefined);
  const candidates = [...(personal ? [personal.at.getTime()] : []), ...teamChanges];
  if (candidates.length === 0) return undefined;
  const next = Math.min(...candidates);
  const at = Math.max(next + offsetMs, notBefore);
  const heldBack = at > next + offsetMs ? heldBackBy(record, minIntervalMs) : undefined;
  const change =
    personal && personal.at.getTime() === next && !activeTeamSeason(teams, new Date(next))
      ? { image: personal.image, pickedAtRandom: personal.pickedAtRandom }
      : { image: targetAt(record, teams, new Date(next)).image, pickedAtRandom: false };
  return { at: new Date(at), ...change, ...(heldBack ? { heldBack } : offsetMs > 0 ? { spread: true as const } : {}) };
}
