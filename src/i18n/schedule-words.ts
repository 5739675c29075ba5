/**
 * Schedules in words: the engine and the scheduler return data (a Schedule, a Rule, a NextChange); this
 * renders it in a locale from the schedule area of the catalogues.
 */
import { eventTimes, validateTimeZone, DEFAULT_TIMEZONE, type NextChange, type Rule, type Schedule } from '../schedule/engine.js';
import type { ScheduleFailure, StoredError } from '../schedule/failures.js';
import { formatInZone } from '../schedule/zoned-time.js';
import { UserFacingError } from '../errors.js';
import { listWithMore } from '../text.js';
import { commandMention } from './commands.js';
import type { Locale } from './locale.js';
import { errorWords } from './render-error.js';
import { t } from './t.js';

/** A rotation's images as one line: the first ones and "and N more", so any list fits a message. */
const IMAGE_LIST_CHARS = 1200;

/** One schedule in one line. An event is shown on the wall clock of the user's current zone. */
export function scheduleWords(locale: Locale, schedule: Schedule, timezone?: string, imageChars = IMAGE_LIST_CHARS): string {
  const line = (() => {
    switch (schedule.kind) {
      case 'season': {
        const { from, to, image, priority } = schedule;
        return priority ? t(locale, 'schedule.describe.season-priority', { from, to, image, priority }) : t(locale, 'schedule.describe.season', { from, to, image });
      }
      case 'rotation': {
        const more = (n: number) => ` ${t(locale, 'schedule.list-more', { count: n })}`;
        const images = listWithMore(schedule.images, imageChars, { more });
        return t(locale, 'schedule.describe.rotation', { every: schedule.every, order: t(locale, schedule.order === 'random' ? 'schedule.order.random' : 'schedule.order.sequence'), images });
      }
      case 'event': {
        const { at, until } = eventTimes(schedule, timezone);
        return until ? t(locale, 'schedule.describe.event-until', { at, until, image: schedule.image }) : t(locale, 'schedule.describe.event', { at, image: schedule.image });
      }
    }
  })();
  if (typeof schedule.paused === 'object') return t(locale, 'schedule.describe.paused-hand', { schedule: line });
  return schedule.paused ? t(locale, 'schedule.describe.paused', { schedule: line }) : line;
}

/** "the season 12-01 to 02-28", "your default image", … */
export function ruleWords(locale: Locale, rule: Rule): string {
  switch (rule.kind) {
    case 'none':
      return t(locale, 'schedule.rule.none');
    case 'default':
      return t(locale, 'schedule.rule.default');
    case 'season':
      return rule.priority
        ? t(locale, 'schedule.rule.season-priority', { from: rule.from, to: rule.to, priority: rule.priority })
        : t(locale, 'schedule.rule.season', { from: rule.from, to: rule.to });
    case 'rotation':
      return t(locale, rule.order === 'random' ? 'schedule.rule.rotation-random' : 'schedule.rule.rotation-sequence', { every: rule.every, images: rule.images });
    case 'event':
      return rule.until === undefined ? t(locale, 'schedule.rule.event', { at: rule.at }) : t(locale, 'schedule.rule.event-until', { at: rule.at, until: rule.until });
    case 'team-season':
      return t(locale, 'schedule.rule.team-season', { from: rule.from, to: rule.to });
    case 'unknown':
      return t(locale, 'schedule.rule.unknown');
  }
}

/** 'Dec 1 00:00 → winter' (English), '1. Dez., 00:00 → winter' (German). */
export function changeWords(locale: Locale, change: Pick<NextChange, 'at' | 'image' | 'pickedAtRandom'> & { spread?: true }, timezone: string | undefined): string {
  // A spread change shows its second: the offset that moved it is under a minute by default.
  const at = formatInZone(change.at, validateTimeZone(timezone ?? DEFAULT_TIMEZONE), { locale, ...(change.spread ? { seconds: true } : {}) });
  if (change.pickedAtRandom) return t(locale, 'schedule.change.random', { at });
  return change.image === undefined ? t(locale, 'schedule.change.none', { at }) : t(locale, 'schedule.change', { at, image: change.image });
}

/** '1 minute', '15 minutes', '1 hour 30 minutes' (with the error parameters' words: one implementation). */
export { durationWords } from './render-error.js';

const upperFirst = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** A stored error in the words the bot shows for it (the catalogue's `bot.error.<kind>`, else `error.<kind>`). */
const storedErrorWords = (error: StoredError, locale: Locale) =>
  errorWords(new UserFacingError(error.kind, error.params, error.variant === undefined ? {} : { variant: error.variant }), locale, 'bot');

/**
 * Why a scheduled change failed, in the reader's words (a DM, a pending notice, /schedule list). A record
 * written before failures were data holds an English sentence: it is shown as it is.
 */
export function failureWords(locale: Locale, failure: ScheduleFailure | string): string {
  if (typeof failure === 'string') return failure;
  switch (failure.kind) {
    case 'image-missing':
      return upperFirst(t(locale, 'schedule.failure.image-missing', { rule: ruleWords(locale, failure.rule), image: failure.image, command: commandMention(locale, 'schedule resume') }));
    case 'team-image-missing':
      return upperFirst(t(locale, 'schedule.failure.team-image-missing', { rule: ruleWords(locale, failure.rule), image: failure.image }));
    case 'link-revoked':
      return t(locale, 'schedule.failure.link-revoked', { command: commandMention(locale, 'twitter link') });
    case 'rate-limited':
      return storedErrorWords(failure.error, locale);
    case 'hand-changed':
      return t(locale, 'schedule.failure.hand-changed', {
        rule: ruleWords(locale, failure.rule),
        image: failure.image,
        resume: commandMention(locale, 'schedule resume'),
        overwrite: commandMention(locale, 'schedule overwrite'),
      });
    case 'change-failed': {
      const reason = failure.error ? storedErrorWords(failure.error, locale) : t(locale, 'schedule.failure.internal');
      return t(locale, 'schedule.failure.change-failed', { rule: ruleWords(locale, failure.rule), image: failure.image, reason });
    }
  }
}
