/**
 * The words for an error at an edge: `<edge>.error.<kind>` when the edge says it its own way (it names a
 * slash command, or a CLI command), else `error.<kind>`; an error still built with an English sentence
 * keeps it until its kind is in the catalogue.
 */
import { UserFacingError } from '../errors.js';
import type { Locale } from './locale.js';
import { lookup } from './t.js';

export type Edge = 'bot' | 'cli';

export function errorWords(error: UserFacingError, locale: Locale, edge: Edge, extra: Record<string, string | number> = {}): string {
  const params = { ...error.params, ...extra };
  return lookup(locale, `${edge}.error.${error.kind}`, params) ?? lookup(locale, `error.${error.kind}`, params) ?? error.userMessage;
}
