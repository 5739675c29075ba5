/** /schedule pause: a schedule stops deciding the avatar until resumed. */
import { ApplicationCommandOptionType, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import type { Locale } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';
import { UserFacingError } from '../../src/errors.js';
import { resumePaused } from '../../src/schedule/hand-changes.js';
import type { Services } from '../../src/services.js';
import { findSchedule, save, scheduleOption, type SubcommandHandler } from './shared.js';

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'pause',
  description: 'Pause a schedule',
  options: [scheduleOption],
} as const satisfies APIApplicationCommandSubcommandOption;

/** Pause or resume the schedule the option names (/schedule resume is the same with `paused` false; it also
 *  takes `default`, the default image, which a hand change on X can pause: see src/schedule/hand-changes.ts). */
export async function setPaused(interaction: ChatInputCommandInteraction, services: Services, locale: Locale, paused: boolean): Promise<void> {
  const id = interaction.options.getString(scheduleOption.name, true);
  if (!paused) {
    if (resumePaused(structuredClone(await services.schedules.get(interaction.user.id)), id) === 'not-found') throw new UserFacingError('schedule-not-found');
    return save(interaction, services, (draft) => void resumePaused(draft, id), t(locale, 'schedule.resumed', { id }));
  }
  findSchedule(await services.schedules.get(interaction.user.id), id);
  await save(interaction, services, (draft) => void (findSchedule(draft, id).paused = true), t(locale, 'schedule.paused', { id }));
}

export const run: SubcommandHandler = (interaction, services, locale) => setPaused(interaction, services, locale, true);
