/** /schedule resume: a paused schedule decides the avatar again. */
import { ApplicationCommandOptionType, type APIApplicationCommandSubcommandOption } from 'discord.js';
import { setPaused } from './pause.js';
import { scheduleOption, type SubcommandHandler } from './shared.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'resume',
  description: 'Resume a paused schedule',
  options: [scheduleOption],
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = (interaction, services, locale) => setPaused(interaction, services, locale, false);
