/**
 * Bounding text that ends up in front of a user: messages have hard limits (Discord's 2,000 characters),
 * and what a user typed is quoted back only as a short, inert excerpt.
 */

/**
 * `text` cut to at most `max` UTF-16 units (what Discord's and our own length checks count), ending with
 * "…" when cut; never splits a surrogate pair.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let cut = '';
  for (const point of text) {
    if (cut.length + point.length > max - 1) break;
    cut += point;
  }
  return `${cut}…`;
}

/**
 * A short, inert excerpt of what a user typed, for an error message: at most `max` characters on one line;
 * backticks and mention-like tokens (<@…>, <#…>, <t:…>, @everyone, @here) are escaped so the excerpt
 * cannot open a code span or mention anyone. Other markdown stays: it can only style the excerpt itself.
 */
export function excerpt(input: string, max = 40): string {
  const flat = truncate(input.replace(/[\s\p{Cc}]+/gu, ' ').trim(), max);
  return flat.replace(/`/g, '\\`').replace(/<(?=[@#:&at])/g, '\\<').replace(/@(?=everyone|here)/g, '@\u200b');
}

/**
 * Items joined with `separator` in at most `max` characters; when they do not all fit, as many as fit
 * followed by `more(n)` (" and 12 more"), so a long list still says how long it was.
 */
export function listWithMore(items: readonly string[], max: number, options: { separator?: string; more?: (n: number) => string } = {}): string {
  const separator = options.separator ?? ', ';
  const more = options.more ?? ((n: number) => ` and ${n} more`);
  const all = items.join(separator);
  if (all.length <= max) return all;
  let shown = '';
  let count = 0;
  for (const item of items) {
    const next = count === 0 ? item : `${shown}${separator}${item}`;
    if (next.length + more(items.length - count - 1).length > max) break;
    shown = next;
    count++;
  }
  // Not all fit (the whole list is longer than max), so something is always left over here.
  return count === 0 ? truncate(more(items.length).trim(), max) : `${shown}${more(items.length - count)}`;
}
