/**
 * The words for an error at an edge: `<edge>.error.<kind>` when the edge says it its own way (it names a
 * slash command, or a CLI command), else `error.<kind>` (each first as `….<kind>.<variant>` when the error
 * has a variant); an error still built with an English sentence keeps it until its kind is in the catalogue.
 *
 * Parameters named `…At` are instants (epoch milliseconds), formatted here in the reader's locale as a UTC
 * time of day (`12:07 UTC`): the same for both edges, since a terminal has no reader's time zone and the
 * bot's English words have said "after 12:07 UTC" since the start.
 */
import type { UserFacingError } from '../errors.js';
import { commandName } from './commands.js';
import type { Locale } from './locale.js';
import { lookup } from './t.js';

export type Edge = 'bot' | 'cli';

const timeFormats = new Map<Locale, Intl.DateTimeFormat>();
function formatInstant(ms: number, locale: Locale): string {
  let format = timeFormats.get(locale);
  if (!format) timeFormats.set(locale, (format = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' })));
  return `${format.format(ms)} UTC`;
}

/** An error's parameters ready for words in `locale`: instants formatted, a command option named as the reader's Discord shows it. */
export function formatParams(params: Readonly<Record<string, string | number>>, locale: Locale): Record<string, string | number> {
  const formatted: Record<string, string | number> = { ...params };
  for (const [name, value] of Object.entries(formatted)) {
    if (name.endsWith('At') && typeof value === 'number') formatted[name] = formatInstant(value, locale);
    if (name === 'option' && typeof value === 'string') formatted[name] = commandName(locale, value);
  }
  return formatted;
}

/** `edge` undefined: only the words that name no command (`error.*`). */
function wordsOf(error: UserFacingError, locale: Locale, edge: Edge | undefined, extra: Record<string, string | number> = {}): string {
  const params = formatParams({ ...error.params, ...extra }, locale);
  // The variant's words first (an edge's, then anyone's), then the kind's: a variant says more than its kind.
  const keys = error.variant === undefined ? [error.kind] : [`${error.kind}.${error.variant}`, error.kind];
  for (const key of keys) {
    const words = (edge === undefined ? undefined : lookup(locale, `${edge}.error.${key}`, params)) ?? lookup(locale, `error.${key}`, params);
    if (words !== undefined) return words;
  }
  return error.userMessage;
}

/** The kind's words that name no command (`error.<kind>`): for a reason inside another sentence. */
export const reasonWords = (error: UserFacingError, locale: Locale): string => wordsOf(error, locale, undefined).replace(/[.。]$/, '');

export const errorWords = (error: UserFacingError, locale: Locale, edge: Edge, extra: Record<string, string | number> = {}): string => wordsOf(error, locale, edge, extra);
