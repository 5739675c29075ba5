/** /branding status and /branding settings: the recent pushes, and where branding activity is posted. */
import { ApplicationCommandOptionType, ChannelType, MessageFlags, type APIApplicationCommandSubcommandOption, type ChatInputCommandInteraction } from 'discord.js';
import { counts } from '../../src/branding/push.js';
import type { OptionsOf } from '../../src/bot/options.js';
import { localeOf } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';
import type { Services } from '../../src/services.js';
import { requireAdmin, requireGuild } from './common.js';

export const statusSubcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'status',
  description: 'The last pushes and their results',
} as const satisfies APIApplicationCommandSubcommandOption;

export const settingsSubcommand = {
  type: ApplicationCommandOptionType.Subcommand,
  name: 'settings',
  description: 'Where branding activity is posted',
  options: [{ type: ApplicationCommandOptionType.Channel, name: 'log-channel', description: 'Leave empty to stop posting', channel_types: [ChannelType.GuildText] }],
} as const satisfies APIApplicationCommandSubcommandOption;

export async function status(interaction: ChatInputCommandInteraction, services: Services): Promise<void> {
  const locale = localeOf(interaction.locale);
  const guildId = requireGuild(interaction);
  requireAdmin(interaction);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const jobs = await services.branding.pushes.status(guildId);
  const opted = (await services.branding.consent.members(guildId)).length;
  const lines = jobs.map((job) => {
    const { done, failed, skipped } = counts(job, 'push');
    return t(locale, 'branding.status.job', {
      id: job.id.slice(0, 8),
      at: `<t:${Math.floor(Date.parse(job.createdAt) / 1000)}:f>`,
      label: job.label,
      admin: `<@${job.adminId}>`,
      state: t(locale, `branding.state.${job.state}`),
      done,
      failed,
      skipped,
    });
  });
  await interaction.editReply({ content: [t(locale, 'branding.status.opted', { count: opted }), ...(lines.length ? lines : [t(locale, 'branding.status.none')])].join('\n') });
}

export async function settings(interaction: ChatInputCommandInteraction, services: Services, options: OptionsOf<typeof settingsSubcommand>): Promise<void> {
  const locale = localeOf(interaction.locale);
  const guildId = requireGuild(interaction);
  requireAdmin(interaction);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const channel = options['log-channel'];
  await services.branding.settings.setLogChannel(guildId, channel?.id);
  await interaction.editReply({ content: channel ? t(locale, 'branding.settings.posted', { channel: `<#${channel.id}>` }) : t(locale, 'branding.settings.off') });
}
