/** /schedule overwrite (issue 12): whether scheduled changes replace an avatar the user changed by hand on X. */
import { ApplicationCommandOptionType, type APIApplicationCommandStringOption, type APIApplicationCommandSubcommandOption } from 'discord.js';
import { choiceOf } from '../../src/bot/options.js';
import { setOverwrite } from '../../src/schedule/hand-changes.js';
import { t } from '../../src/i18n/t.js';
import { save, type SubcommandHandler } from './shared.js';

const modeOption = {
  type: ApplicationCommandOptionType.String,
  name: 'mode',
  description: 'off (default): pause that schedule and ask; on: replace it',
  required: true,
  choices: [
    { name: 'on', value: 'on' },
    { name: 'off', value: 'off' },
  ],
} as const satisfies APIApplicationCommandStringOption;

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'overwrite',
  description: 'Whether scheduled changes replace an avatar you changed by hand on X',
  options: [modeOption],
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = async (interaction, services, locale) => {
  // Required, and one of the choices (checked before any handler runs): off, the default, otherwise.
  const on = choiceOf(modeOption, interaction.options.getString(modeOption.name, true)) === 'on';
  // Turned on, what a hand change paused resumes at once (re-planned through the scheduler).
  await save(interaction, services, (draft) => setOverwrite(draft, on), t(locale, on ? 'schedule.overwrite.on' : 'schedule.overwrite.off'));
};
