/**
 * /profile name | bio | revert | history | apply | kit: the display name and bio, any part back one step, and
 * several parts at once. One file per subcommand (its definition and its handler); the command's
 * definition is read as data from them.
 */
import type { RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { EVERYWHERE, type SlashCommand } from '../../src/bot/command.js';
import { invocationOf } from '../../src/bot/options.js';
import { localizedDefinition } from '../../src/i18n/commands.js';
import * as apply from './apply.js';
import * as bio from './bio.js';
import * as history from './history.js';
import * as kit from './kit.js';
import * as name from './name.js';
import * as revert from './revert.js';

// Descriptions and choice names are the catalogue's (command.profile.*); those here are for readers.
const definition = {
  name: 'profile',
  ...EVERYWHERE,
  description: 'Change your X display name and bio, or several parts of your profile at once',
  options: [name.subcommand, bio.subcommand, revert.subcommand, history.subcommand, apply.subcommand, kit.subcommand],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

export const profileCommand: SlashCommand = {
  definition: localizedDefinition(definition),

  async execute(interaction, services) {
    const invocation = invocationOf(definition, interaction);
    switch (invocation.subcommand) {
      case 'name':
        return name.run(interaction, services, invocation.options);
      case 'bio':
        return bio.run(interaction, services, invocation.options);
      case 'revert':
        return revert.run(interaction, services, invocation.options);
      case 'history':
        return history.run(interaction, services, invocation.options);
      case 'apply':
        return apply.run(interaction, services, invocation.options);
      case 'kit':
        return kit.run(interaction, services, invocation.options);
    }
  },

  async autocomplete(interaction, services) {
    const kits = (await services.library.kits(interaction.user.id)).map((entry) => entry.name);
    const typed = interaction.options.getFocused().toLowerCase();
    return kits.filter((entry) => entry.toLowerCase().includes(typed)).slice(0, 25).map((entry) => ({ name: entry, value: entry }));
  },
};
