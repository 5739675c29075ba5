/**
 * The text parts of an X profile (display name, bio, website, location), counted the way X counts them:
 * user-perceived characters (grapheme clusters), not UTF-16 units. A flag (🇩🇪, 4 units), a family
 * (👩‍👩‍👧, 8 units) or "é" written as e + U+0301 is one character to X and here, so a name of 50 emoji
 * is accepted and a name of 51 letters is not.
 *
 * Kit templates (`🎃 {name}`) keep each member's own value; when the result would be over X's limit, only
 * the member's part is shortened, at a grapheme boundary, with "…". The fixed text is never cut: if it
 * alone is over the limit, the template is refused.
 */
import { UserFacingError } from '../errors.js';

/** X's limits, in graphemes (x-api.md, "Banner, display name and bio"). */
export const PROFILE_TEXT_LIMITS = { name: 50, description: 160, url: 100, location: 30 } as const;
export type ProfileField = keyof typeof PROFILE_TEXT_LIMITS;
export type ProfileText = Partial<Record<ProfileField, string>>;

export const PROFILE_TEXT_ERROR_KINDS = [
  'text-too-long', // variant: the field (name, description, url, location); params length, max
  'template-too-long', // the template's fixed text alone is over the limit; params length, max
] as const;
export type ProfileTextErrorKind = (typeof PROFILE_TEXT_ERROR_KINDS)[number];

export class ProfileTextError extends UserFacingError<ProfileTextErrorKind> {}

// Grapheme rules do not depend on the locale (UAX #29); one segmenter serves every call.
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
/**
 * Node 20's segmenter costs time in proportion to the whole string for every segment it yields: counting
 * 10,000 letters took 58 ms, 30,000 took 514 ms, 100,000 took 3.8 s (CPU time). So text is segmented in
 * windows of WINDOW units, each new window starting at the last boundary the previous one found (a real
 * boundary, so the rules restart correctly there): 100,000 letters then take about 30 ms.
 */
const WINDOW = 256;

/** The graphemes of `text`, in order. A grapheme longer than a window (only a pile of combining marks is) counts as several. */
function* graphemesOf(text: string): Generator<string> {
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + WINDOW);
    // Never between the halves of a surrogate pair: a lone half breaks the cluster before it in two. Every
    // other boundary depends only on what precedes it and the character at it, so it is the same in the window.
    if (end < text.length && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
    let last: Intl.SegmentData | undefined;
    for (const data of segmenter.segment(text.slice(start, end))) {
      if (last) yield last.segment;
      last = data;
    }
    if (end === text.length || last!.index === 0) {
      yield last!.segment;
      start = end;
    } else {
      start += last!.index; // the window's last grapheme may go on past its end: it opens the next window
    }
  }
}

/** How many characters X sees in `text`. */
export function countGraphemes(text: string): number {
  let count = 0;
  for (const _ of graphemesOf(text)) count++;
  return count;
}

/** The first `max` graphemes of `text` (all of them when it has fewer), without segmenting the rest. */
function firstGraphemes(text: string, max: number): string[] {
  const out: string[] = [];
  if (max <= 0) return out;
  for (const grapheme of graphemesOf(text)) {
    out.push(grapheme);
    if (out.length >= max) break;
  }
  return out;
}

/** Refuses (ProfileTextError `text-too-long`, variant = the field) the first value longer than X allows. */
export function checkProfileText(fields: ProfileText): void {
  for (const field of Object.keys(PROFILE_TEXT_LIMITS) as ProfileField[]) {
    const value = fields[field];
    if (value === undefined) continue;
    const max = PROFILE_TEXT_LIMITS[field];
    // A value of more UTF-16 units than the limit may still fit (emoji); fewer units always fits.
    if (value.length <= max) continue;
    const length = countGraphemes(value);
    if (length > max) throw new ProfileTextError('text-too-long', { length, max }, { variant: field });
  }
}

/** What a template's `{name}` and `{bio}` stand for: the member's own values from before the kit. */
export interface TemplateValues {
  name?: string;
  bio?: string;
}

const PLACEHOLDER = /\{(name|bio)\}/g;
const ELLIPSIS = '…';

/**
 * `template` with `{name}` and `{bio}` replaced by the member's values, at most `limit` graphemes long.
 * When it would be longer, the member's values are shortened (the longest first, at grapheme
 * boundaries) and end in "…"; one that cannot keep even that is left out. The fixed text is never cut: over `limit`
 * on its own, it is refused (ProfileTextError `template-too-long`).
 */
export function fillTemplate(template: string, values: TemplateValues, limit: number): string {
  const fixed = template.split(PLACEHOLDER).filter((_, index) => index % 2 === 0);
  const fixedLength = countGraphemes(fixed.join(''));
  if (fixedLength > limit) throw new ProfileTextError('template-too-long', { length: fixedLength, max: limit });

  const keys = [...template.matchAll(PLACEHOLDER)].map((match) => match[1] as keyof TemplateValues);
  // No value needs more than `limit + 1` graphemes to be over the limit: a longer one is not segmented further.
  const parts = new Map(keys.map((key) => [key, firstGraphemes(values[key] ?? '', limit + 1)]));
  /** Whether a value was segmented to its end (then it can be shown whole). */
  const complete = (key: keyof TemplateValues) => parts.get(key)!.length <= limit;
  /** Graphemes each value may take, its "…" included. */
  const budget = new Map(keys.map((key) => [key, parts.get(key)!.length]));

  const render = (key: keyof TemplateValues): string => {
    const all = parts.get(key)!;
    const keep = budget.get(key)!;
    if (keep >= all.length && complete(key)) return values[key] ?? '';
    if (keep <= 0) return '';
    return `${all.slice(0, keep - 1).join('').trimEnd()}${ELLIPSIS}`;
  };
  const assemble = () => template.replace(PLACEHOLDER, (_, key: keyof TemplateValues) => render(key));

  let result = assemble();
  for (let over = countGraphemes(result) - limit; over > 0; over = countGraphemes(result) - limit) {
    // Shorten the value with the most graphemes left (the later one in the template on a tie) by as many as
    // are over, but not below the next longest: a grapheme fewer in a value is one fewer in the result
    // (more if spaces before the "…" go), so this never cuts more than needed and needs few rounds.
    const lefts = [...budget.values()].filter((left) => left > 0);
    // Unreachable: with every value left out, what remains is the fixed text, which fits.
    if (lefts.length === 0) break;
    const left = Math.max(...lefts);
    const key = [...budget].filter(([, other]) => other === left).at(-1)![0];
    const tied = lefts.filter((other) => other === left).length > 1;
    const next = tied ? left : Math.max(0, ...lefts.filter((other) => other < left));
    budget.set(key, left - Math.max(1, Math.min(over, left - next)));
    result = assemble();
  }
  return result;
}
