/** The languages the bot speaks, and how a Discord locale maps onto them. */
export const LOCALES = ['en-US', 'de', 'ja'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en-US';

/**
 * Discord's locale of a user or a server (`en-US`, `en-GB`, `de`, `ja`, `es-ES`, …) as one we have words
 * for: German and Japanese as such, everything else in English.
 */
export function localeOf(discordLocale: string | null | undefined): Locale {
  if (discordLocale === 'de' || discordLocale === 'ja') return discordLocale;
  return DEFAULT_LOCALE;
}
