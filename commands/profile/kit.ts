/** /profile kit name: a kit of your library (/library kit) applied to your own profile, one recorded change per part. */
import { ApplicationCommandOptionType, MessageFlags, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import type { OptionsOf } from '../../src/bot/options.js';
import { partsReply, replyTo } from '../../src/bot/replies.js';
import { LibraryError } from '../../src/library/store.js';
import { localeOf } from '../../src/i18n/locale.js';
import { excerpt } from '../../src/text.js';
import type { Services } from '../../src/services.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'kit',
  description: 'Apply a kit of your library to your profile',
  options: [{ type: ApplicationCommandOptionType.String, name: 'name', description: 'The kit', required: true, autocomplete: true, max_length: 64 }],
} as const satisfies APIApplicationCommandSubcommandOption;

export async function run(interaction: ChatInputCommandInteraction, services: Services, { name }: OptionsOf<typeof subcommand>): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  await services.avatars.requireActiveLink(interaction.user.id);
  const kit = await services.library.getKit(interaction.user.id, name);
  if (!kit) throw new LibraryError('not-found', { name: excerpt(name) }, { variant: 'kit' });
  const results = await services.kits.apply(interaction.user.id, kit, 'upload', `kit ${kit.name}`, replyTo(interaction));
  await interaction.editReply(partsReply(results, localeOf(interaction.locale), services.logger));
}
