/**
 * Team-wide branding. Two commands, because Discord sets default permissions per command:
 * /branding-consent join|leave for every member (consent.ts), and /branding push|revert|season|status|settings
 * for admins (Manage Server, as the default member permission and checked again when it runs), one file
 * per subcommand.
 */
import { PermissionFlagsBits, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { SERVER_ONLY, type SlashCommand } from '../../src/bot/command.js';
import { invocationOf } from '../../src/bot/options.js';
import { localizedDefinition } from '../../src/i18n/commands.js';
import { push, pushSubcommand } from './push.js';
import { revert, revertSubcommand } from './revert.js';
import { season, seasonSubcommand } from './season.js';
import { settings, settingsSubcommand, status, statusSubcommand } from './status.js';

export { brandingConsentCommand } from './consent.js';

// Descriptions and choice names are the catalogue's (command.branding.*); those here are for readers.
const definition = {
  name: 'branding',
  description: 'Set the X avatar of every member who opted in (admins)',
  default_member_permissions: String(PermissionFlagsBits.ManageGuild),
  ...SERVER_ONLY,
  options: [pushSubcommand, revertSubcommand, seasonSubcommand, statusSubcommand, settingsSubcommand],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

export const brandingCommand: SlashCommand = {
  definition: localizedDefinition(definition),

  // The kit of /branding push: the admin's own kits.
  async autocomplete(interaction, services) {
    const query = interaction.options.getFocused().toLowerCase();
    const kits = await services.library.kits(interaction.user.id);
    return kits.filter((kit) => kit.name.toLowerCase().includes(query)).map((kit) => ({ name: kit.name, value: kit.name }));
  },

  async execute(interaction, services) {
    const invocation = invocationOf(definition, interaction);
    switch (invocation.subcommand) {
      case 'push':
        return push(interaction, services, invocation.options);
      case 'revert':
        return revert(interaction, services);
      case 'season':
        return season(interaction, services, invocation.options);
      case 'status':
        return status(interaction, services);
      case 'settings':
        return settings(interaction, services, invocation.options);
    }
  },
};
