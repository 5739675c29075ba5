/**
 * The message catalogues, one per locale, each the union of its areas (one file per area under
 * `src/i18n/<locale>/`). English is the reference: its keys are the keys, its `{placeholders}` the
 * parameters; a German or Japanese area must have exactly the same keys (`satisfies AreaOf<…>`, checked
 * by tsc) and the same placeholders (checked by test/i18n.test.ts).
 *
 * Plurals follow i18next: `key_one`, `key_other` (and `_zero`, `_two`, `_few`, `_many` where a language has
 * them); `t(locale, 'key', { count })` picks by `Intl.PluralRules`.
 */
import deAvatar from './de/avatar.js';
import deBranding from './de/branding.js';
import deCli from './de/cli.js';
import deCommon from './de/common.js';
import deErrors from './de/errors.js';
import deLibrary from './de/library.js';
import deProfile from './de/profile.js';
import deSchedule from './de/schedule.js';
import deTwitter from './de/twitter.js';
import deWords from './de/words.js';
import enAvatar from './en-US/avatar.js';
import enBranding from './en-US/branding.js';
import enCli from './en-US/cli.js';
import enCommon from './en-US/common.js';
import enErrors from './en-US/errors.js';
import enLibrary from './en-US/library.js';
import enProfile from './en-US/profile.js';
import enSchedule from './en-US/schedule.js';
import enTwitter from './en-US/twitter.js';
import enWords from './en-US/words.js';
import jaAvatar from './ja/avatar.js';
import jaBranding from './ja/branding.js';
import jaCli from './ja/cli.js';
import jaCommon from './ja/common.js';
import jaErrors from './ja/errors.js';
import jaLibrary from './ja/library.js';
import jaProfile from './ja/profile.js';
import jaSchedule from './ja/schedule.js';
import jaTwitter from './ja/twitter.js';
import jaWords from './ja/words.js';
import type { Locale } from './locale.js';

export const enUS = { ...enCommon, ...enErrors, ...enAvatar, ...enTwitter, ...enLibrary, ...enProfile, ...enSchedule, ...enBranding, ...enCli, ...enWords } as const;

/** A translation of an English area: the same keys, any words. */
export type AreaOf<English> = { readonly [K in keyof English]: string };

export type MessageKey = keyof typeof enUS;

export const catalogues: Record<Locale, AreaOf<typeof enUS>> = {
  'en-US': enUS,
  de: { ...deCommon, ...deErrors, ...deAvatar, ...deTwitter, ...deLibrary, ...deProfile, ...deSchedule, ...deBranding, ...deCli, ...deWords },
  ja: { ...jaCommon, ...jaErrors, ...jaAvatar, ...jaTwitter, ...jaLibrary, ...jaProfile, ...jaSchedule, ...jaBranding, ...jaCli, ...jaWords },
};
