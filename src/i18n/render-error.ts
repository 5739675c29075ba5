/**
 * The words for an error at an edge: `<edge>.error.<kind>` when the edge says it its own way (it names a
 * slash command, or a CLI command), else `error.<kind>` (each first as `….<kind>.<variant>` when the error
 * has a variant); an error still built with an English sentence keeps it until its kind is in the catalogue.
 *
 * Parameters are data, put into the reader's words here (`formatParams`), so no English rides inside a
 * German or Japanese sentence: instants, durations, counts and limits, command options, image formats and
 * layouts, cron fields and Discord permissions by name convention, and X's own words quoted as foreign,
 * hostile text.
 */
import type { ErrorRecord, StoredReason, UserFacingError } from '../errors.js';
import { truncate } from '../text.js';
import { commandName } from './commands.js';
import type { Locale } from './locale.js';
import { hasText, lookup, t } from './t.js';

export type Edge = 'bot' | 'cli';

const timeFormats = new Map<Locale, Intl.DateTimeFormat>();
/**
 * Parameters named `…At` are instants (epoch milliseconds), formatted in the reader's locale as a UTC time
 * of day (`12:07 UTC`): the same for both edges, since a terminal has no reader's time zone and the bot's
 * English words have said "after 12:07 UTC" since the start.
 */
function formatInstant(ms: number, locale: Locale): string {
  let format = timeFormats.get(locale);
  if (!format) timeFormats.set(locale, (format = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' })));
  return `${format.format(ms)} UTC`;
}

const DURATION_UNITS = [
  ['schedule.duration.day', 86_400],
  ['schedule.duration.hour', 3600],
  ['schedule.duration.minute', 60],
  ['schedule.duration.second', 1],
] as const;

/** '1 minute', '15 minutes', '1 hour 30 minutes' in `locale`. */
export function durationWords(locale: Locale, ms: number): string {
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [key, size] of DURATION_UNITS) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0) parts.push(t(locale, key, { count }));
  }
  return parts.join(' ') || t(locale, 'schedule.duration.second', { count: 0 });
}

/**
 * Number parameters that are counts or limits, written with the reader's digit grouping (en-US 5,000,
 * de 5.000, ja 5,000). Not ids, HTTP statuses, years, or pixel sizes (`{width}x{height}` reads as one
 * size). `count` too, but in wordsOf: t() needs it as a number to pick its plural form.
 */
const COUNTS = new Set(['max', 'min', 'length', 'step', 'frames', 'scans', 'megabytes', 'megapixels', 'minutes', 'finished', 'total']);
const numberFormats = new Map<Locale, Intl.NumberFormat>();
function formatNumber(value: number, locale: Locale): string {
  let format = numberFormats.get(locale);
  if (!format) numberFormats.set(locale, (format = new Intl.NumberFormat(locale)));
  return format.format(value);
}

const listFormats = new Map<Locale, Intl.ListFormat>();
/** Discord permission flags (`EmbedLinks,AttachFiles`) as the reader's Discord client names them, as one list. */
function permissionWords(flags: string, locale: Locale): string {
  let list = listFormats.get(locale);
  if (!list) listFormats.set(locale, (list = new Intl.ListFormat(locale, { type: 'conjunction' })));
  const names = flags
    .split(',')
    .filter(Boolean)
    .map((flag) => lookup(locale, `discord.permission.${flag}`) ?? flag.replace(/([a-z])([A-Z])/g, '$1 $2'));
  return list.format(names);
}

/** X's words shown to a user: a short error message; anything longer is cut. */
export const X_TEXT_MAX = 160;

/**
 * X's own words (an error message X sent: English, and hostile input like anything from the network) made
 * inert for a sentence that quotes them: one line of at most X_TEXT_MAX characters without control or
 * format characters (no terminal escapes, no bidi overrides); for Discord also with markdown escaped and
 * mentions broken (`@\u200beveryone`, `\<@1>`), so the quote can only ever show X's text.
 */
export function foreignText(text: string, edge: Edge | undefined): string {
  const flat = truncate(text.replace(/[\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu, ' ').trim(), X_TEXT_MAX);
  if (edge === 'cli') return flat;
  return flat.replace(/[\\`*_~|<>[\]()#]/g, '\\$&').replace(/@/g, '@\u200b');
}

/**
 * An error's parameters ready for words in `locale`, by name: `…At` instants, `…Ms` durations, COUNTS
 * numbers, `option` a command option as the reader's Discord shows it, `format` an image format id (`bmp`),
 * `layout` an image layout id (`interlaced-png`, which takes the `bitDepth` beside it), `cronField` a cron
 * field id (`day-of-month`, which also brings its `example`), `permissions` Discord permission flags
 * (`EmbedLinks,AttachFiles`), `xSaid` X's own words (see foreignText). A value without words in the
 * catalogue (a record stored before it was an id) is shown as it is.
 */
export function formatParams(params: Readonly<Record<string, string | number>>, locale: Locale, edge?: Edge): Record<string, string | number> {
  const formatted: Record<string, string | number> = { ...params };
  const words = (key: string, value: string) => lookup(locale, key) ?? value;
  for (const [name, value] of Object.entries(formatted)) {
    if (name.endsWith('At') && typeof value === 'number') formatted[name] = formatInstant(value, locale);
    else if (name.endsWith('Ms') && typeof value === 'number') formatted[name] = durationWords(locale, value);
    else if (COUNTS.has(name) && typeof value === 'number') formatted[name] = formatNumber(value, locale);
    else if (typeof value !== 'string') continue;
    else if (name === 'option') formatted[name] = commandName(locale, value);
    else if (name === 'format') formatted[name] = words(`format.${value}`, value);
    else if (name === 'layout') formatted[name] = lookup(locale, `layout.${value}`, params) ?? value;
    else if (name === 'cronField') {
      formatted[name] = words(`cron.field.${value}`, value);
      formatted.example ??= lookup(locale, `cron.example.${value}`) ?? '';
    } else if (name === 'permissions') formatted[name] = permissionWords(value, locale);
    else if (name === 'xSaid') formatted[name] = foreignText(value, edge);
  }
  if (typeof params.reasonKind === 'string') formatted.reason = storedReasonWords(storedReasonOf(params), locale);
  return formatted;
}

/** The reason reasonParams (src/errors.ts) put into an error's parameters. */
function storedReasonOf(params: Readonly<Record<string, string | number>>): ErrorRecord {
  const nested = Object.entries(params).filter(([name]) => name.startsWith('reason.')).map(([name, value]) => [name.slice('reason.'.length), value]);
  return { kind: String(params.reasonKind), ...(typeof params.reasonVariant === 'string' ? { variant: params.reasonVariant } : {}), params: Object.fromEntries(nested) };
}

const pluralRules = new Map<Locale, Intl.PluralRules>();
/** A plural key's form for `count` (`error.rate-limited_one`), chosen here: t() gets `count` already formatted. */
function pluralForm(locale: Locale, key: string, count: unknown): string {
  if (typeof count !== 'number' || !hasText(`${key}_other`)) return key;
  let rules = pluralRules.get(locale);
  if (!rules) pluralRules.set(locale, (rules = new Intl.PluralRules(locale)));
  const form = `${key}_${rules.select(count)}`;
  return hasText(form) ? form : `${key}_other`;
}

/** `edge` undefined: only the words that name no command (`error.*`). */
function wordsOf(error: ErrorRecord & { userMessage?: string }, locale: Locale, edge: Edge | undefined, extra: Record<string, string | number> = {}): string {
  // A rejection stored before X's words had their own parameter carries them as `reason`.
  const stored: Record<string, string> = error.kind === 'image-rejected' && error.params.xSaid === undefined && typeof error.params.reason === 'string' ? { xSaid: error.params.reason } : {};
  const params = formatParams({ ...error.params, ...stored, ...extra }, locale, edge);
  const count = params.count;
  if (typeof count === 'number') params.count = formatNumber(count, locale);
  const fill = (key: string) => lookup(locale, pluralForm(locale, key, count), params);
  // The variant's words first (an edge's, then anyone's), then the kind's: a variant says more than its kind.
  const keys = error.variant === undefined ? [error.kind] : [`${error.kind}.${error.variant}`, error.kind];
  for (const key of keys) {
    const words = (edge === undefined ? undefined : fill(`${edge}.error.${key}`)) ?? fill(`error.${key}`);
    if (words !== undefined) return words;
  }
  return error.userMessage ?? error.kind;
}

/** The kind's words that name no command (`error.<kind>`): for a reason inside another sentence. */
export const reasonWords = (error: UserFacingError, locale: Locale): string => wordsOf(error, locale, undefined).replace(/[.。]$/, '');

/** A reason the store kept, in `locale` (a record kept before there were records is shown as it is). */
export const storedReasonWords = (reason: StoredReason, locale: Locale): string =>
  (typeof reason === 'string' ? reason : wordsOf(reason, locale, undefined)).replace(/[.。]$/, '');

export const errorWords = (error: UserFacingError, locale: Locale, edge: Edge, extra: Record<string, string | number> = {}): string => wordsOf(error, locale, edge, extra);
