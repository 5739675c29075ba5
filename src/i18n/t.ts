/** Words from the catalogues: `t(locale, key, params)`. */
import { catalogues, enUS, type MessageKey } from './catalogue.js';
import type { Locale } from './locale.js';

const PLURAL_SUFFIX = /_(zero|one|two|few|many|other)$/;

/** A key as callers name it: plural forms (`key_one`, `key_other`) by their base. */
export type TextKey = MessageKey extends infer K ? (K extends `${infer Base}_${'zero' | 'one' | 'two' | 'few' | 'many' | 'other'}` ? Base : K) : never;

type Placeholders<S> = S extends `${string}{${infer Name}}${infer Rest}` ? Name | Placeholders<Rest> : never;
type EnglishOf<K extends TextKey> = K extends MessageKey ? (typeof enUS)[K] : (typeof enUS)[Extract<`${K}_other`, MessageKey>];
/** The parameters a key's English text names (plural keys take `count`). */
export type ParamsOf<K extends TextKey> = Record<Placeholders<EnglishOf<K>> | (K extends MessageKey ? never : 'count'), string | number>;
type ParamArgs<K extends TextKey> = [Placeholders<EnglishOf<K>>] extends [never] ? (K extends MessageKey ? [params?: Record<string, never>] : [params: { count: number }]) : [params: ParamsOf<K>];

const pluralRules = new Map<Locale, Intl.PluralRules>();
function pluralOf(locale: Locale, count: number): string {
  let rules = pluralRules.get(locale);
  if (!rules) pluralRules.set(locale, (rules = new Intl.PluralRules(locale)));
  return rules.select(count);
}

/** The text of `key` in `locale` with its placeholders filled. */
export function t<K extends TextKey>(locale: Locale, key: K, ...[params]: ParamArgs<K>): string {
  return format(locale, key, params as Record<string, string | number> | undefined);
}

/** t() for a key known only at run time (an error kind); undefined when the catalogue has no such key. */
export function lookup(locale: Locale, key: string, params?: Record<string, string | number>): string | undefined {
  return hasText(key) ? format(locale, key, params) : undefined;
}

export function hasText(key: string): boolean {
  return key in enUS || `${key}_other` in enUS;
}

function format(locale: Locale, key: string, params: Record<string, string | number> | undefined): string {
  const catalogue = catalogues[locale] as Record<string, string>;
  const count = params?.count;
  const text =
    (typeof count === 'number' ? (catalogue[`${key}_${pluralOf(locale, count)}`] ?? catalogue[`${key}_other`]) : undefined) ?? catalogue[key] ?? (enUS as Record<string, string>)[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (params && name in params ? String(params[name]) : whole));
}

/** The keys and placeholders of a catalogue text, for the tests. */
export const placeholdersIn = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!).sort();
export { PLURAL_SUFFIX };
