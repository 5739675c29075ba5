/** What every /branding subcommand checks first, and the log channel's words for what an admin did. */
import { PermissionFlagsBits, type ChatInputCommandInteraction } from 'discord.js';
import { UserFacingError } from '../../src/errors.js';
import type { Locale } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';
import type { ProfilePart } from '../../src/profile/parts.js';

/** Where a /branding command may run and who may run it (words: `error.<kind>`, in the user's language). */
export const BRANDING_COMMAND_ERROR_KINDS = ['guild-only', 'not-admin'] as const;

/** The server the command runs in. */
export function requireGuild(interaction: ChatInputCommandInteraction): string {
  if (!interaction.guildId) throw new UserFacingError('guild-only');
  return interaction.guildId;
}

export function requireAdmin(interaction: ChatInputCommandInteraction): void {
  if (!interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
    throw new UserFacingError('not-admin');
  }
}

/** "avatar and display name" in `locale`. */
export function partsWords(parts: readonly ProfilePart[], locale: Locale): string {
  return new Intl.ListFormat(locale, { type: 'conjunction' }).format(parts.map((part) => t(locale, `branding.part.${part}`)));
}
