/** /profile name: the display name X shows, checked against X's limit in graphemes before anything is sent. */
import { ApplicationCommandOptionType, MessageFlags, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import type { OptionsOf } from '../../src/bot/options.js';
import { partAppliedReply, replyTo } from '../../src/bot/replies.js';
import { localeOf } from '../../src/i18n/locale.js';
import type { Services } from '../../src/services.js';
import { checkTexts, NAME_MAX_UNITS } from './shared.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'name',
  description: 'Set your X display name',
  options: [{ type: ApplicationCommandOptionType.String, name: 'text', description: 'The new display name', required: true, min_length: 1, max_length: NAME_MAX_UNITS }],
} as const satisfies APIApplicationCommandSubcommandOption;

export async function run(interaction: ChatInputCommandInteraction, services: Services, { text }: OptionsOf<typeof subcommand>): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  checkTexts({ name: text });
  await services.avatars.requireActiveLink(interaction.user.id);
  const applied = await services.avatars.applyPart(interaction.user.id, 'name', { text }, 'upload', 'profile name', replyTo(interaction));
  await interaction.editReply(partAppliedReply(applied, 'updated', localeOf(interaction.locale)));
}
