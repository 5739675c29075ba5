/**
 * What the scheduler does next for one member, worked out from the stored record alone, so that the
 * scheduler's timer and what `/schedule list` shows are the same instant: the next change the schedules
 * and team seasons call for, held back by the minimum interval since the last change and by a pending
 * retry (after a rate limit or X being down). Pure: no I/O, no clock.
 */
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

export interface PlannedChange {
  at: Date;
  /** The image then (a team season's image is named by its season); undefined for a random pick. */
  image: string | undefined;
  pickedAtRandom: boolean;
  /** Why it is later than the schedules say: the minimum interval, or a retry after a failure. */
  heldBack?: 'minimum-interval' | 'retry';
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
 * of the hold; a later one no sooner than that either.
 */
export function plannedChange(record: ScheduleRecord, teams: Team[], now: Date, minIntervalMs: number): PlannedChange | undefined {
  if (record.suspended) return undefined;
  const notBefore = notBeforeMs(record, minIntervalMs);
  const due = targetAt(record, teams, now);
  if (due.key !== undefined && due.key !== record.applied?.image && now.getTime() < notBefore) {
    return { at: new Date(notBefore), image: due.image, pickedAtRandom: false, heldBack: heldBackBy(record, minIntervalMs) };
  }
  // While a team season is active the member's own changes do not show: its end is what comes next.
  const personal = !activeTeamSeason(teams, now) && record.schedules.some((schedule) => !schedule.paused) ? nextChangeAt(record, now) : undefined;
  const teamChanges = teams.map((team) => nextChangeAt({ timezone: TEAM_TIMEZONE, schedules: team.seasons }, now)?.at.getTime()).filter((at): at is number => at !== undefined);
  const candidates = [...(personal ? [personal.at.getTime()] : []), ...teamChanges];
  if (candidates.length === 0) return undefined;
  const next = Math.min(...candidates);
  const at = Math.max(next, notBefore);
  const heldBack = at > next ? heldBackBy(record, minIntervalMs) : undefined;
  const change =
    personal && personal.at.getTime() === next && !activeTeamSeason(teams, new Date(next))
      ? { image: personal.image, pickedAtRandom: personal.pickedAtRandom }
      : { image: targetAt(record, teams, new Date(next)).image, pickedAtRandom: false };
  return { at: new Date(at), ...change, ...(heldBack ? { heldBack } : {}) };
}
