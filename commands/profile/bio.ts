/** /profile bio: a new bio (checked against X's limit in graphemes before anything is sent), or `clear` to empty it. */
import { ApplicationCommandOptionType, MessageFlags, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import type { OptionsOf } from '../../src/bot/options.js';
import { partAppliedReply, replyTo } from '../../src/bot/replies.js';
import { UserFacingError } from '../../src/errors.js';
import { localeOf } from '../../src/i18n/locale.js';
import type { Services } from '../../src/services.js';
import { BIO_MAX_UNITS, checkTexts } from './shared.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'bio',
  description: 'Set or clear your X bio',
  options: [
    { type: ApplicationCommandOptionType.String, name: 'text', description: 'The new bio', min_length: 1, max_length: BIO_MAX_UNITS },
    { type: ApplicationCommandOptionType.Boolean, name: 'clear', description: 'Empty your bio instead' },
  ],
} as const satisfies APIApplicationCommandSubcommandOption;

export async function run(interaction: ChatInputCommandInteraction, services: Services, { text, clear }: OptionsOf<typeof subcommand>): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  // Discord cannot make one of two options required: an empty bio is asked for explicitly, never by leaving the text out.
  if ((clear === true) === (text !== undefined)) throw new UserFacingError('bio-text-or-clear');
  checkTexts({ bio: text });
  await services.avatars.requireActiveLink(interaction.user.id);
  const applied = await services.avatars.applyPart(interaction.user.id, 'bio', { text: text ?? '' }, 'upload', 'profile bio', replyTo(interaction));
  await interaction.editReply(partAppliedReply(applied, 'updated', localeOf(interaction.locale)));
}
