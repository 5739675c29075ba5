/**
 * Which language a message that is not a reply goes out in. A reply follows `interaction.locale`; a DM
 * from a schedule or a push follows the user's last seen locale (remembered here from their interactions);
 * a post in a server's channel follows the server's preferred locale.
 *
 * Stored in the namespace `locales` as `user:<id>` → Locale, written only when it changed, with an
 * in-memory copy so that an interaction costs no store call once its user is known. A store failure
 * never fails the command or the message: the user gets the last known locale, or English.
 */
import type { Logger } from '../log.js';
import type { Store } from '../store/backend.js';
import { DEFAULT_LOCALE, LOCALES, localeOf, type Locale } from './locale.js';

export const LOCALE_NAMESPACE = 'locales';

/** Remembered users in memory; past this the copy starts over (about 100 bytes each: 10 MB at most). */
const CACHE_MAX = 100_000;

export interface LocalePreferences {
  /** An interaction of `userId` in Discord's `discordLocale`: remembered when it differs. Never throws. */
  seen(userId: string, discordLocale: string | null | undefined): Promise<void>;
  /** The user's last seen locale, English when none is known or the store fails. Never throws. */
  of(userId: string): Promise<Locale>;
  /** Unlinking forgets the user's locale too. */
  forget(userId: string): Promise<void>;
}

const key = (userId: string) => `user:${userId}`;
const isLocale = (value: unknown): value is Locale => (LOCALES as readonly unknown[]).includes(value);

export function createLocalePreferences(store: Store, logger: Logger): LocalePreferences {
  const locales = store.namespace<string>(LOCALE_NAMESPACE);
  const known = new Map<string, Locale>();
  const remember = (userId: string, locale: Locale) => {
    if (known.size >= CACHE_MAX && !known.has(userId)) known.clear();
    known.set(userId, locale);
  };
  return {
    async seen(userId, discordLocale) {
      const locale = localeOf(discordLocale);
      if (known.get(userId) === locale) return;
      try {
        const stored = await locales.get(key(userId));
        if (stored !== locale) await locales.set(key(userId), locale);
        remember(userId, locale);
      } catch (error) {
        logger.warn({ err: error, user: userId }, 'could not remember the locale of a user');
      }
    },
    async of(userId) {
      const cached = known.get(userId);
      if (cached) return cached;
      try {
        const stored = await locales.get(key(userId));
        if (!isLocale(stored)) return DEFAULT_LOCALE;
        remember(userId, stored);
        return stored;
      } catch (error) {
        logger.warn({ err: error, user: userId }, 'could not read the locale of a user; writing in English');
        return DEFAULT_LOCALE;
      }
    },
    async forget(userId) {
      known.delete(userId);
      await locales.delete(key(userId));
    },
  };
}

/** A server's preferred locale (Community servers set it; others report en-US) as one we have words for. */
export const guildLocale = (guild: { preferredLocale?: string | null } | null | undefined): Locale => localeOf(guild?.preferredLocale);
