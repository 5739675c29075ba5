/** /schedule rotate: rotate through images on a cron, in sequence or at random. */
import { ApplicationCommandOptionType, type APIApplicationCommandStringOption, type APIApplicationCommandSubcommandOption } from 'discord.js';
import { choiceOf } from '../../src/bot/options.js';
import { UserFacingError } from '../../src/errors.js';
import { addSchedule, base, type SubcommandHandler } from './shared.js';

/** 100 names of up to 32 characters with ", " between them would be 3,400: a rotation that long is a mistake. */
const IMAGES_MAX = 2000;
const ROTATION_IMAGES_MAX = 100;

const imagesOption = { type: ApplicationCommandOptionType.String, name: 'images', description: 'Library names separated by commas', required: true, max_length: IMAGES_MAX } as const satisfies APIApplicationCommandStringOption;
const everyOption = { type: ApplicationCommandOptionType.String, name: 'every', description: 'hourly, daily, weekly or a cron expression', required: true, max_length: 100 } as const satisfies APIApplicationCommandStringOption;
const orderOption = {
  type: ApplicationCommandOptionType.String,
  name: 'order',
  description: 'sequence (default) or random',
  choices: [
    { name: 'sequence', value: 'sequence' },
    { name: 'random', value: 'random' },
  ],
} as const satisfies APIApplicationCommandStringOption;

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'rotate',
  description: 'Rotate through images',
  options: [imagesOption, everyOption, orderOption],
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = async (interaction, services) => {
  const options = interaction.options;
  const images = options.getString(imagesOption.name, true).split(',').map((name) => name.trim()).filter(Boolean);
  if (images.length > ROTATION_IMAGES_MAX) {
    throw new UserFacingError('rotation-list-too-long', { max: ROTATION_IMAGES_MAX, count: images.length });
  }
  await addSchedule(interaction, services, {
    ...base(),
    kind: 'rotation',
    images,
    every: options.getString(everyOption.name, true).trim(),
    order: choiceOf(orderOption, options.getString(orderOption.name)) ?? 'sequence',
  });
};
