/** /schedule remove: delete a schedule. */
import { ApplicationCommandOptionType, type APIApplicationCommandSubcommandOption } from 'discord.js';
import { scheduleWords } from '../../src/i18n/schedule-words.js';
import { t } from '../../src/i18n/t.js';
import { findSchedule, save, scheduleOption, type SubcommandHandler } from './shared.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'remove',
  description: 'Remove a schedule',
  options: [scheduleOption],
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = async (interaction, services, locale) => {
  const id = interaction.options.getString(scheduleOption.name, true);
  const record = await services.schedules.get(interaction.user.id);
  const schedule = findSchedule(record, id);
  await save(interaction, services, (draft) => void (draft.schedules = draft.schedules.filter((candidate) => candidate.id !== id)), t(locale, 'schedule.removed', { schedule: scheduleWords(locale, schedule, record.timezone) }));
};
