/** /profile revert part: one part of the profile back one step, down to what it was before the bot first changed it. */
import { ApplicationCommandOptionType, MessageFlags, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import type { OptionsOf } from '../../src/bot/options.js';
import { partAppliedReply, replyTo } from '../../src/bot/replies.js';
import { localeOf } from '../../src/i18n/locale.js';
import type { Services } from '../../src/services.js';
import { forPart } from '../../src/bot/parts.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'revert',
  description: 'Go back to the previous value of one part of your profile',
  options: [
    {
      type: ApplicationCommandOptionType.String,
      name: 'part',
      description: 'Which part',
      required: true,
      choices: [
        { name: 'avatar', value: 'avatar' },
        { name: 'banner', value: 'banner' },
        { name: 'display name', value: 'name' },
        { name: 'bio', value: 'bio' },
      ],
    },
  ],
} as const satisfies APIApplicationCommandSubcommandOption;

export async function run(interaction: ChatInputCommandInteraction, services: Services, { part }: OptionsOf<typeof subcommand>): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const reverted = await forPart(part, () => services.avatars.revertPart(interaction.user.id, part, replyTo(interaction)));
  await interaction.editReply(partAppliedReply(reverted, reverted.restoredOriginal ? 'original-restored' : 'previous-restored', localeOf(interaction.locale)));
}
