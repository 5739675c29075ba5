/**
 * Team-wide branding. Two commands, because Discord sets default permissions per command:
 * /branding-consent join|leave for every member (consent.ts), and /branding push|revert|season|status|settings
 * for admins (Manage Server, as the default member permission and checked again when it runs), one file
 * per subcommand.
 */
import { ApplicationCommandOptionType, ChannelType, PermissionFlagsBits } from 'discord.js';
import { SERVER_ONLY, type SlashCommand } from '../../src/bot/command.js';
import { backgroundOption, cropOption, imageAttachmentOption } from '../../src/bot/options.js';
import { localizedDefinition } from '../../src/i18n/commands.js';
import { push } from './push.js';
import { revert } from './revert.js';
import { season } from './season.js';
import { settings, status } from './status.js';

export { brandingConsentCommand } from './consent.js';

export const brandingCommand: SlashCommand = {
  // Descriptions and choice names are the catalogue's (command.branding.*); those here are for readers.
  definition: localizedDefinition({
    name: 'branding',
    description: 'Set the X avatar of every member who opted in (admins)',
    default_member_permissions: String(PermissionFlagsBits.ManageGuild),
    ...SERVER_ONLY,
    options: [
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'push',
        description: 'Push one avatar to every member who opted in',
        options: [
          imageAttachmentOption,
          { type: ApplicationCommandOptionType.Role, name: 'role', description: 'Only members with this role' },
          { type: ApplicationCommandOptionType.String, name: 'label', description: 'A name for this push, e.g. "Launch week"', max_length: 80 },
          cropOption,
          backgroundOption,
        ],
      },
      { type: ApplicationCommandOptionType.Subcommand, name: 'revert', description: 'Restore everyone’s avatar from before the last push' },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'season',
        description: 'A team avatar for a range of days every year, above members’ own schedules',
        options: [
          imageAttachmentOption,
          { type: ApplicationCommandOptionType.String, name: 'from', description: 'First day, MM-DD (UTC)', required: true, min_length: 5, max_length: 5 },
          { type: ApplicationCommandOptionType.String, name: 'to', description: 'Last day, MM-DD (may wrap the new year)', required: true, min_length: 5, max_length: 5 },
        ],
      },
      { type: ApplicationCommandOptionType.Subcommand, name: 'status', description: 'The last pushes and their results' },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'settings',
        description: 'Where branding activity is posted',
        options: [{ type: ApplicationCommandOptionType.Channel, name: 'log-channel', description: 'Leave empty to stop posting', channel_types: [ChannelType.GuildText] }],
      },
    ],
  }),

  async execute(interaction, services) {
    switch (interaction.options.getSubcommand()) {
      case 'push':
        return push(interaction, services);
      case 'revert':
        return revert(interaction, services);
      case 'season':
        return season(interaction, services);
      case 'status':
        return status(interaction, services);
      case 'settings':
        return settings(interaction, services);
    }
  },
};
