/** /schedule event: an image for a one-off moment, or from a moment until another. */
import { ApplicationCommandOptionType, type APIApplicationCommandStringOption, type APIApplicationCommandSubcommandOption } from 'discord.js';
import { createEvent } from '../../src/schedule/engine.js';
import { addSchedule, base, imageOption, type SubcommandHandler } from './shared.js';

const atOption = { type: ApplicationCommandOptionType.String, name: 'at', description: 'YYYY-MM-DD HH:MM in your time zone', required: true, max_length: 40 } as const satisfies APIApplicationCommandStringOption;
const untilOption = { type: ApplicationCommandOptionType.String, name: 'until', description: 'YYYY-MM-DD HH:MM; afterwards the usual image comes back', max_length: 40 } as const satisfies APIApplicationCommandStringOption;

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'event',
  description: 'An image for a one-off moment',
  options: [imageOption, atOption, untilOption],
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = async (interaction, services) => {
  const options = interaction.options;
  const until = options.getString(untilOption.name) ?? undefined;
  const { timezone } = await services.schedules.get(interaction.user.id);
  const input = { ...base(), image: options.getString(imageOption.name, true), at: options.getString(atOption.name, true).trim(), ...(until ? { until: until.trim() } : {}) };
  const { event, startsNow } = createEvent(input, timezone ?? 'UTC', new Date());
  await addSchedule(interaction, services, event, startsNow ? input.at : undefined);
};
