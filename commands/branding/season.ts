/** /branding season: a team season for every member who opted in, above their own schedules. */
import { ApplicationCommandOptionType, MessageFlags, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import { randomUUID } from 'node:crypto';
import { teamLibraryOwner } from '../../src/branding/team-seasons.js';
import { normalisedAttachment } from '../../src/bot/attachment.js';
import { postToLog, serverLocale } from '../../src/bot/branding-report.js';
import { imageAttachmentOption, type OptionsOf } from '../../src/bot/options.js';
import { avatarFile } from '../../src/bot/replies.js';
import { localeOf, type Locale } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';
import { validateSchedule } from '../../src/schedule/engine.js';
import type { Services } from '../../src/services.js';
import { requireAdmin, requireGuild } from './common.js';

export const seasonSubcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'season',
  description: 'A team avatar for a range of days every year, above members’ own schedules',
  options: [
    imageAttachmentOption,
    { type: ApplicationCommandOptionType.String, name: 'from', description: 'First day, MM-DD (UTC)', required: true, min_length: 5, max_length: 5 },
    { type: ApplicationCommandOptionType.String, name: 'to', description: 'Last day, MM-DD (may wrap the new year)', required: true, min_length: 5, max_length: 5 },
  ],
} as const satisfies APIApplicationCommandSubcommandOption;

export async function season(interaction: ChatInputCommandInteraction, services: Services, options: OptionsOf<typeof seasonSubcommand>): Promise<void> {
  const locale = localeOf(interaction.locale);
  const guildId = requireGuild(interaction);
  requireAdmin(interaction);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const id = randomUUID().slice(0, 6);
  const teamSeason = { id, kind: 'season' as const, image: `team-${id}`, from: options.from, to: options.to, priority: 0, createdAt: new Date().toISOString() };
  validateSchedule(teamSeason, 'UTC');
  const { avatar } = await normalisedAttachment(options, services);
  await services.library.add(teamLibraryOwner(guildId), teamSeason.image, { data: avatar.data, format: avatar.format });
  await services.branding.seasons.add(guildId, teamSeason);
  const members = await services.branding.consent.members(guildId);
  for (const userId of members) {
    await services.scheduler.edit(userId); // a record, so the restore finds the member
  }
  const summary = (words: Locale) => t(words, 'branding.season.added', { from: teamSeason.from, to: teamSeason.to, count: members.length });
  await interaction.editReply({ content: summary(locale), files: [avatarFile(avatar, 'team-season')] });
  // The record kept for the server is in English, as a push's is (src/bot/branding-report.ts).
  await services.branding.settings.record(guildId, { at: new Date().toISOString(), adminId: interaction.user.id, action: 'season', label: `${teamSeason.from}..${teamSeason.to}`, summary: summary('en-US') });
  await postToLog(interaction.client, services, guildId, `<@${interaction.user.id}> ${summary(serverLocale(interaction.client, guildId))}`);
}
