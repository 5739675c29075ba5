/** What every /branding subcommand checks first, and the log channel's words for what an admin did. */
import { PermissionFlagsBits, type ChatInputCommandInteraction } from 'discord.js';
import { UserFacingError } from '../../src/errors.js';
import { localeOf } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';

/** The server the command runs in; the words are the user's (these kinds are the bot's own). */
export function requireGuild(interaction: ChatInputCommandInteraction): string {
  if (!interaction.guildId) throw new UserFacingError('guild-only', t(localeOf(interaction.locale), 'branding.guild-only'));
  return interaction.guildId;
}

export function requireAdmin(interaction: ChatInputCommandInteraction): void {
  if (!interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
    throw new UserFacingError('not-admin', t(localeOf(interaction.locale), 'branding.not-admin'));
  }
}
