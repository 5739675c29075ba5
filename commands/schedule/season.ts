/** /schedule season: an image for a range of days every year. */
import {
  ApplicationCommandOptionType,
  type APIApplicationCommandIntegerOption,
  type APIApplicationCommandStringOption,
  type APIApplicationCommandSubcommandOption,
} from 'discord.js';
import { addSchedule, base, imageOption, type SubcommandHandler } from './shared.js';

const fromOption = { type: ApplicationCommandOptionType.String, name: 'from', description: 'First day, MM-DD', required: true, min_length: 5, max_length: 5 } as const satisfies APIApplicationCommandStringOption;
const toOption = { type: ApplicationCommandOptionType.String, name: 'to', description: 'Last day, MM-DD (may wrap the new year)', required: true, min_length: 5, max_length: 5 } as const satisfies APIApplicationCommandStringOption;
const priorityOption = { type: ApplicationCommandOptionType.Integer, name: 'priority', description: 'Higher wins when seasons overlap (default 0)' } as const satisfies APIApplicationCommandIntegerOption;

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'season',
  description: 'An image for a range of days every year',
  options: [imageOption, fromOption, toOption, priorityOption],
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = async (interaction, services) => {
  const options = interaction.options;
  await addSchedule(interaction, services, {
    ...base(),
    kind: 'season',
    image: options.getString(imageOption.name, true),
    from: options.getString(fromOption.name, true),
    to: options.getString(toOption.name, true),
    priority: options.getInteger(priorityOption.name) ?? 0,
  });
};
