/** /schedule preview: which image would be active on a day, and which rule decides it. */
import { ApplicationCommandOptionType, type APIApplicationCommandStringOption, type APIApplicationCommandSubcommandOption } from 'discord.js';
import { previewDate } from '../../src/schedule/engine.js';
import { ruleWords } from '../../src/i18n/schedule-words.js';
import { t } from '../../src/i18n/t.js';
import type { SubcommandHandler } from './shared.js';

const dateOption = { type: ApplicationCommandOptionType.String, name: 'date', description: 'YYYY-MM-DD', required: true, min_length: 10, max_length: 10 } as const satisfies APIApplicationCommandStringOption;

export const subcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'preview',
  description: 'Which image would be active on a day',
  options: [dateOption],
} as const satisfies APIApplicationCommandSubcommandOption;

export const run: SubcommandHandler = async (interaction, services, locale) => {
  const date = interaction.options.getString(dateOption.name, true);
  const preview = previewDate(await services.schedules.get(interaction.user.id), date, new Date());
  const rule = ruleWords(locale, preview.rule);
  await interaction.editReply({ content: preview.image ? t(locale, 'schedule.preview.image', { date, image: preview.image, rule }) : t(locale, 'schedule.preview.nothing', { rule }) });
};
