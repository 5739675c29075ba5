/** /branding revert: takes back the last push, with progress; no prompt (a revert only restores). */
import { ApplicationCommandOptionType, MessageFlags, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import { describeProgress } from '../../src/branding/push.js';
import { finishRevert } from '../../src/bot/branding-report.js';
import { localeOf } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';
import type { Services } from '../../src/services.js';
import { requireAdmin, requireGuild } from './common.js';

export const revertSubcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'revert',
  description: 'Restore everyone’s avatar from before the last push',
} as const satisfies APIApplicationCommandSubcommandOption;

export async function revert(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  const locale = localeOf(interaction.locale);
  const guildId = requireGuild(interaction);
  requireAdmin(interaction);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const job = await services.branding.pushes.revert(guildId, {
    adminId: interaction.user.id,
    onProgress: (progress) => void interaction.editReply({ content: t(locale, 'branding.reverting', { progress: describeProgress(progress, locale) }) }).catch(() => undefined),
  });
  await finishRevert(interaction.client, services, guildId, job, interaction.user.id, { locale, send: (summary) => interaction.editReply({ content: summary }).then(() => undefined) });
}
