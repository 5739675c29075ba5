/**
 * Words the bot edge says itself, through the real discord.js client: a `de` and a `ja` user get the bot's
 * own input errors and the problem `/twitter status` reports (X's answer, an error value the core hands
 * back) in their language, with no English sentence left in.
 */
import { describe, expect, it } from 'vitest';
import { enUS } from '../../src/i18n/catalogue.js';
import type { Locale } from '../../src/i18n/locale.js';
import { commandName } from '../../src/i18n/commands.js';
import { t } from '../../src/i18n/t.js';
import { SLOW_MS, useHarness } from '../bot/helpers.js';
import { X_PATHS, xFaults } from '../support/x-server.js';

/** The en-US sentences (pieces between placeholders, 10+ characters with a space), none of which a de/ja reply may contain. */
const englishSentences = [...new Set(Object.values(enUS).flatMap((text) => text.split(/\{\w+\}/).map((piece) => piece.trim())))].filter(
  (piece) => piece.length >= 10 && piece.includes(' '),
);
const englishIn = (text: string) => englishSentences.filter((sentence) => text.includes(sentence));

describe.each(['de', 'ja'] as Exclude<Locale, 'en-US'>[])('a %s user', (locale) => {
  const h = useHarness();

  it('whose link X refuses sees the /twitter status problem in their language', async () => {
    const user = h.discord.addMember({ username: `refused-${locale}` });
    await h.linkUser(user, `refused_${locale}`);
    h.x.fail(xFaults.accountLocked(X_PATHS.verifyCredentials));

    const status = await h.discord.slash(user, { name: 'twitter', subcommand: 'status' }, { locale });
    const reply = await status.waitForReply(undefined, SLOW_MS);
    const health = reply.embeds[0]?.fields?.find((field) => field.name === t(locale, 'twitter.status.health'))?.value;
    expect(health).toBe(t(locale, 'twitter.status.unknown', { problem: t(locale, 'error.account-locked') }));
    expect(englishIn(health ?? '')).toEqual([]);
  });

  it('is told in their language that an option is too long, without the input echoed', async () => {
    const user = h.discord.addMember({ username: `long-${locale}` });
    const zone = `Europe/${'B'.repeat(4993)}`;
    const interaction = await h.discord.slash(user, { name: 'schedule', subcommand: 'timezone', options: { zone } }, { locale });
    const reply = (await interaction.waitForReply()).content;
    // The option as the user's Discord names it (de: zone, ja: ゾーン), the length in their digit grouping (de: 5.000).
    expect(reply).toBe(t(locale, 'error.input-too-long', { option: commandName(locale, 'zone'), max: 64, length: new Intl.NumberFormat(locale).format(5000) }));
    expect(englishIn(reply)).toEqual([]);
    expect(reply).not.toContain('BBBB');
  });
});
