/** /schedule timezone: the time zone of every schedule of the user. */
import { ApplicationCommandOptionType, type APIApplicationCommandStringOption, type APIApplicationCommandSubcommandOption } from 'discord.js';
import { formatInZone, pinEvents, validateTimeZone } from '../../src/schedule/engine.js';
import { t } from '../../src/i18n/t.js';
import type { ScheduleRecord } from '../../src/schedule/store.js';
import { save, type SubcommandHandler } from './shared.js';

export const zoneOption = {
  type: ApplicationCommandOptionType.String,
  name: 'zone',
  description: 'An IANA name like Europe/Berlin',
  required: true,
  autocomplete: true,
  max_length: 64,
} as const satisfies APIApplicationCommandStringOption;

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'timezone',
  description: 'Your time zone for all schedules (default UTC)',
  options: [zoneOption],
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = async (interaction, services, locale) => {
  const zone = validateTimeZone(interaction.options.getString(zoneOption.name, true).trim());
  // Events stored as wall clock are pinned in the old zone first: a zone change never moves or repeats them.
  const change = (draft: ScheduleRecord) => {
    pinEvents(draft);
    draft.timezone = zone;
  };
  await save(interaction, services, change, t(locale, 'schedule.timezone-set', { zone, now: formatInZone(new Date(), zone, { locale }) }));
};
