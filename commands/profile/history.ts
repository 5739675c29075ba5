/** /profile history part: the display names or bios the bot applied, newest first, and what came before the bot. */
import { ApplicationCommandOptionType, EmbedBuilder, escapeMarkdown, MessageFlags, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import type { OptionsOf } from '../../src/bot/options.js';
import { BRAND_COLOUR } from '../../src/bot/replies.js';
import { localeOf } from '../../src/i18n/locale.js';
import { storedReasonWords } from '../../src/i18n/render-error.js';
import { t } from '../../src/i18n/t.js';
import type { Services } from '../../src/services.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'history',
  description: 'The last 10 display names or bios the bot applied',
  options: [
    {
      type: ApplicationCommandOptionType.String,
      name: 'part',
      description: 'Which part',
      required: true,
      choices: [
        { name: 'display name', value: 'name' },
        { name: 'bio', value: 'bio' },
      ],
    },
  ],
} as const satisfies APIApplicationCommandSubcommandOption;

export async function run(interaction: ChatInputCommandInteraction, services: Services, { part }: OptionsOf<typeof subcommand>): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const locale = localeOf(interaction.locale);
  const { entries, original } = await services.avatars.partHistory(interaction.user.id, part);
  if (entries.length === 0) {
    await interaction.editReply({ content: t(locale, `profile.history.${part}.empty`) });
    return;
  }
  const shown = (text: string | undefined) => (text ? escapeMarkdown(text) : t(locale, 'profile.history.empty-text'));
  const embed = new EmbedBuilder().setColor(BRAND_COLOUR);
  for (const [index, entry] of [...entries].reverse().entries()) {
    embed.addFields({
      name: index === 0 ? t(locale, 'avatar.history.current') : t(locale, 'avatar.history.changes-ago', { count: index }),
      value: `${shown(entry.text)}\n<t:${Math.floor(Date.parse(entry.appliedAt) / 1000)}:f> · ${t(locale, `avatar.source.${entry.source}`)}`,
    });
  }
  const originalNote = !original
    ? ''
    : !original.saved
      ? t(locale, 'profile.history.original-not-saved', { reason: storedReasonWords(original.reason, locale) })
      : `${'none' in original ? t(locale, 'profile.history.original-none') : t(locale, 'profile.history.original', { text: shown(original.text) })}\n${t(locale, 'profile.history.revert-hint')}`;
  await interaction.editReply({ content: originalNote, embeds: [embed] });
}
