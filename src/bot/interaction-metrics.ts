/**
 * What the metrics record of an interaction the bot dispatches: its labels, taken from the registered
 * definitions only (Discord sends any name it is given; a name the bot did not register is `unknown`, so a
 * forged one adds no series), the latency of its first answer, and its outcome.
 */
import { ApplicationCommandOptionType, type RepliableInteraction } from 'discord.js';
import { UserFacingError } from '../errors.js';
import { UNKNOWN, type InteractionLabels, type Metrics } from '../metrics.js';
import { parseCustomId, type SlashCommand } from './command.js';

/** The label of a command that has no subcommands. */
const NO_SUBCOMMAND = 'none';

export function interactionLabels(interaction: RepliableInteraction, byName: ReadonlyMap<string, SlashCommand>): InteractionLabels {
  if (interaction.isChatInputCommand()) {
    const command = byName.get(interaction.commandName);
    if (!command) return { type: 'command', command: UNKNOWN, subcommand: UNKNOWN };
    const subcommands = (command.definition.options ?? []).filter((option) => option.type === ApplicationCommandOptionType.Subcommand).map((option) => option.name);
    const given = interaction.options.getSubcommand(false);
    const subcommand = given === null ? (subcommands.length === 0 ? NO_SUBCOMMAND : UNKNOWN) : subcommands.includes(given) ? given : UNKNOWN;
    return { type: 'command', command: command.definition.name, subcommand };
  }
  if (interaction.isMessageComponent() || interaction.isModalSubmit()) {
    const { command, action } = parseCustomId(interaction.customId);
    const components = byName.get(command)?.components;
    if (components && Object.hasOwn(components, action)) return { type: 'component', command, subcommand: action };
  }
  return { type: 'component', command: UNKNOWN, subcommand: UNKNOWN };
}

const ANSWERS = ['reply', 'deferReply', 'showModal', 'update', 'deferUpdate'] as const;

/**
 * Starts measuring a dispatched interaction: the time from its creation (the snowflake's timestamp, so the
 * gateway's delivery counts too) to Discord accepting its first answer, whichever method sends it. Call the
 * returned function once the handler is done, with its error if it threw.
 */
export function measureInteraction(metrics: Metrics, interaction: RepliableInteraction, byName: ReadonlyMap<string, SlashCommand>): (error?: unknown) => void {
  if (!metrics.enabled) return () => undefined;
  const labels = interactionLabels(interaction, byName);
  const methods = interaction as unknown as Record<string, unknown>;
  let answered = false;
  for (const name of ANSWERS) {
    const original = methods[name];
    if (typeof original !== 'function') continue;
    methods[name] = async (...args: unknown[]) => {
      const result: unknown = await (original as (...args: unknown[]) => unknown).apply(interaction, args);
      if (!answered) metrics.acknowledged(labels, (Date.now() - interaction.createdTimestamp) / 1000);
      answered = true;
      return result;
    };
  }
  return (error?: unknown) => metrics.interaction(labels, error === undefined ? 'ok' : error instanceof UserFacingError ? 'user-error' : 'internal-error');
}
