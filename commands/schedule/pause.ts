/** /schedule pause: a schedule stops deciding the avatar until resumed. */
import { ApplicationCommandOptionType, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import type { Locale } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';
import type { Services } from '../../src/services.js';
import { findSchedule, save, scheduleOption, type SubcommandHandler } from './shared.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'pause',
  description: 'Pause a schedule',
  options: [scheduleOption],
} as const satisfies APIApplicationCommandSubcommandOption;

/** Pause or resume the schedule the option names (/schedule resume is the same with `paused` false). */
export async function setPaused(interaction: ChatInputCommandInteraction, services: Services, locale: Locale, paused: boolean): Promise<void> {
  const id = interaction.options.getString(scheduleOption.name, true);
  findSchedule(await services.schedules.get(interaction.user.id), id);
  await save(interaction, services, (draft) => void (findSchedule(draft, id).paused = paused || undefined), t(locale, paused ? 'schedule.paused' : 'schedule.resumed', { id }));
}

export const run: SubcommandHandler = (interaction, services, locale) => setPaused(interaction, services, locale, true);
