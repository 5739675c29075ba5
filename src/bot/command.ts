/**
 * The shape of a slash command module (commands/*.ts): its definition as data (it drives registration
 * and the tests) and thin handlers that call the use cases in src/ and turn results into replies.
 */
import {
  ApplicationIntegrationType,
  InteractionContextType,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type ModalSubmitInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  type StringSelectMenuInteraction,
} from 'discord.js';
import type { Services } from '../services.js';

export type ComponentInteraction = ButtonInteraction | StringSelectMenuInteraction | ModalSubmitInteraction;

/** Answers one component of a command: `argument` is the third part of its custom id. */
export type ComponentHandler<I extends ComponentInteraction = ComponentInteraction> = (interaction: I, services: Services, argument: string) => Promise<void>;

/**
 * A component route that takes only its own kind of component, narrowed by discord.js's type guard: the
 * bot sets these custom ids on that kind only, so another kind carrying one is forged and gets no answer.
 */
export const onButton =
  (handler: ComponentHandler<ButtonInteraction>): ComponentHandler =>
  async (interaction, services, argument) => {
    if (interaction.isButton()) await handler(interaction, services, argument);
  };
export const onSelect =
  (handler: ComponentHandler<StringSelectMenuInteraction>): ComponentHandler =>
  async (interaction, services, argument) => {
    if (interaction.isStringSelectMenu()) await handler(interaction, services, argument);
  };
export const onModal =
  (handler: ComponentHandler<ModalSubmitInteraction>): ComponentHandler =>
  async (interaction, services, argument) => {
    if (interaction.isModalSubmit()) await handler(interaction, services, argument);
  };

export interface SlashCommand {
  definition: RESTPostAPIChatInputApplicationCommandsJSONBody;
  execute(interaction: ChatInputCommandInteraction, services: Services): Promise<void>;
  /** Choices for the option being typed (at most 25). */
  autocomplete?(interaction: AutocompleteInteraction, services: Services): Promise<Array<{ name: string; value: string }>>;
  /**
   * Buttons, selects and modals that outlive the command's handler (they still work after a restart),
   * keyed by the second part of their custom id: `<command>:<action>:<argument>` (`onButton`, `onSelect`, `onModal`).
   */
  components?: Record<string, ComponentHandler>;
}

/**
 * Where a personal command is offered: installed to a server or to the user's account, and run in a
 * server, in the bot's DM or in any other DM/group DM (a user install reaches those). Such a command
 * must not need a guild, a cached channel or a member: it acts for `interaction.user` only.
 */
export const EVERYWHERE = {
  integration_types: [ApplicationIntegrationType.GuildInstall, ApplicationIntegrationType.UserInstall],
  contexts: [InteractionContextType.Guild, InteractionContextType.BotDM, InteractionContextType.PrivateChannel],
} satisfies Partial<RESTPostAPIChatInputApplicationCommandsJSONBody>;

/** Server commands (/branding*): only where the bot was added to the server, only in that server. */
export const SERVER_ONLY = {
  integration_types: [ApplicationIntegrationType.GuildInstall],
  contexts: [InteractionContextType.Guild],
} satisfies Partial<RESTPostAPIChatInputApplicationCommandsJSONBody>;

export const customId = (command: string, action: string, argument = '') => `${command}:${action}:${argument}`;

export function parseCustomId(id: string): { command: string; action: string; argument: string } {
  const [command = '', action = '', ...rest] = id.split(':');
  return { command, action, argument: rest.join(':') };
}
