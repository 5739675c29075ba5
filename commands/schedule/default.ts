/** /schedule default: the image when no season, rotation or event applies. */
import { ApplicationCommandOptionType, type APIApplicationCommandSubcommandOption } from 'discord.js';
import { t } from '../../src/i18n/t.js';
import { imageOption, requireTarget, save, type SubcommandHandler } from './shared.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'default',
  description: 'The image when no season, rotation or event applies',
  options: [imageOption],
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = async (interaction, services, locale) => {
  const name = await requireTarget(services, interaction.user.id, interaction.options.getString(imageOption.name, true));
  await save(interaction, services, (draft) => void (draft.defaultImage = name), t(locale, 'schedule.default-set', { image: name }));
};
