/** Option definitions that several slash commands share. */
import {
  ApplicationCommandOptionType,
  type APIApplicationCommandAttachmentOption,
  type APIApplicationCommandStringOption,
  type Attachment,
  type CommandInteractionOption,
  type User,
} from 'discord.js';
import { UserFacingError } from '../errors.js';

export const imageAttachmentOption = {
  type: ApplicationCommandOptionType.Attachment,
  name: 'image',
  description: 'A JPG, PNG, GIF or WebP image',
  required: true,
} as const satisfies APIApplicationCommandAttachmentOption;

export const cropOption = {
  type: ApplicationCommandOptionType.String,
  name: 'crop',
  description: 'How to make it square (default: around the most interesting part)',
  choices: [
    { name: 'attention (most interesting part)', value: 'attention' },
    { name: 'centre', value: 'centre' },
    { name: 'contain (whole image on a background)', value: 'contain' },
  ],
} as const satisfies APIApplicationCommandStringOption;

export const backgroundOption = {
  type: ApplicationCommandOptionType.String,
  name: 'background',
  description: 'Background colour for contain or transparency, like #1da1f2',
  min_length: 7,
  max_length: 7,
} as const satisfies APIApplicationCommandStringOption;

/** The values of a string option's choices, as its definition declares them. */
export type ChoiceOf<O extends { choices: readonly { value: string }[] }> = O['choices'][number]['value'];

/**
 * A string option's value as one of its definition's choices: undefined when not given (or, since
 * `checkStringOptions` refuses any other value before a handler runs, not one of them).
 */
export function choiceOf<const O extends { choices: readonly { value: string }[] }>(option: O, given: string | null): ChoiceOf<O> | undefined {
  return option.choices.find((choice) => choice.value === given)?.value;
}

/** The subcommand an interaction runs, as one of its command definition's subcommand names. */
export function subcommandOf<const D extends { options: readonly { name: string }[] }>(definition: D, interaction: { options: { getSubcommand(): string } }): D['options'][number]['name'] {
  const given = interaction.options.getSubcommand();
  const subcommand = definition.options.find((option) => option.name === given);
  // Discord runs only registered subcommands: an unknown one is a registration older than this code.
  if (!subcommand) throw new Error(`no subcommand ${given} in /${String((definition as { name?: unknown }).name)}`);
  return subcommand.name;
}

/** An option as a definition declares it, as far as reading its value goes. */
interface ReadableOption {
  readonly type: ApplicationCommandOptionType;
  readonly name: string;
  readonly required?: boolean;
  readonly choices?: readonly { readonly value: string | number }[];
}

/** The value of one option as its definition types it: one of its choices, or what its type carries. */
type ValueOf<O extends ReadableOption> = O extends { choices: readonly { value: infer V }[] }
  ? V
  : O['type'] extends ApplicationCommandOptionType.String
    ? string
    : O['type'] extends ApplicationCommandOptionType.Integer | ApplicationCommandOptionType.Number
      ? number
      : O['type'] extends ApplicationCommandOptionType.Boolean
        ? boolean
        : O['type'] extends ApplicationCommandOptionType.Attachment
          ? Attachment
          : O['type'] extends ApplicationCommandOptionType.User
            ? User
            : O['type'] extends ApplicationCommandOptionType.Role
              ? NonNullable<CommandInteractionOption['role']>
              : O['type'] extends ApplicationCommandOptionType.Channel
                ? NonNullable<CommandInteractionOption['channel']>
                : never;

/** A (sub)command's option values by name, as its definition declares them: an optional option may be undefined. */
export type OptionsOf<D extends { options?: readonly ReadableOption[] }> = {
  [O in NonNullable<D['options']>[number] as O['name']]: O extends { required: true } ? ValueOf<O> : ValueOf<O> | undefined;
};

interface OptionReader {
  options: { get(name: string, required?: boolean): CommandInteractionOption | null };
}

/** One option's value from an interaction, checked against its definition (its type, its choices). */
function readOption(option: ReadableOption, interaction: OptionReader): unknown {
  // discord.js throws for a required option that is missing: a registration older than this code.
  const given = interaction.options.get(option.name, option.required === true);
  if (!given) return undefined;
  if (given.type !== option.type) throw new Error(`option ${option.name} arrived as type ${given.type}, defined as ${option.type}`);
  switch (option.type) {
    case ApplicationCommandOptionType.Attachment:
      return given.attachment;
    case ApplicationCommandOptionType.User:
      return given.user;
    case ApplicationCommandOptionType.Role:
      return given.role;
    case ApplicationCommandOptionType.Channel:
      return given.channel;
  }
  if (!option.choices) return given.value;
  // The dispatcher refused any other value (checkStringOptions); this keeps the type honest.
  const choice = option.choices.find((candidate) => candidate.value === given.value);
  if (!choice) throw new InputError('input-invalid', { option: option.name });
  return choice.value;
}

/** The option values of a command without subcommands, or of one subcommand's definition. */
function optionsOf<const D extends { options?: readonly ReadableOption[] }>(definition: D, interaction: OptionReader): OptionsOf<D> {
  return Object.fromEntries((definition.options ?? []).map((option) => [option.name, readOption(option, interaction)])) as OptionsOf<D>;
}

type SubcommandDefinition = { readonly name: string; readonly options?: readonly ReadableOption[] };

/** Which subcommand runs, with its options: switch on `subcommand`, and `options` is that subcommand's. */
export type InvocationOf<D extends { options: readonly SubcommandDefinition[] }> = {
  [S in D['options'][number] as S['name']]: { subcommand: S['name']; options: OptionsOf<S> };
}[D['options'][number]['name']];

/** The subcommand an interaction runs and its option values, typed by the command's definition. */
export function invocationOf<const D extends { options: readonly SubcommandDefinition[] }>(definition: D, interaction: OptionReader & { options: { getSubcommand(): string } }): InvocationOf<D> {
  const subcommand = subcommandOf(definition, interaction);
  const options = optionsOf(definition.options.find((option) => option.name === subcommand)!, interaction);
  return { subcommand, options } as InvocationOf<D>;
}

/** How long a string option may be when its definition forgot `max_length` (a test requires one on every option). */
export const DEFAULT_STRING_MAX = 100;

export const INPUT_ERROR_KINDS = ['input-too-long', 'input-invalid'] as const;
export class InputError extends UserFacingError<(typeof INPUT_ERROR_KINDS)[number]> {}

interface OptionDefinition {
  name: string;
  type: number;
  options?: readonly OptionDefinition[];
  choices?: readonly { value: string | number }[];
  max_length?: number;
}

interface GivenOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  focused?: boolean;
  options?: readonly GivenOption[];
}

/**
 * Every string option as its definition bounds it: one of the choices, or at most `max_length` characters.
 * Discord enforces the same, but a hostile client or a definition registered long ago need not; this runs
 * before any handler does work, and never echoes the input. The option being typed in an autocomplete is
 * checked too (`throws` false: the answer is then "no choices").
 */
export function checkStringOptions(definitions: readonly OptionDefinition[] | undefined, given: readonly GivenOption[]): void {
  for (const option of given) {
    const definition = definitions?.find((candidate) => candidate.name === option.name);
    if (option.type === ApplicationCommandOptionType.Subcommand || option.type === ApplicationCommandOptionType.SubcommandGroup) {
      checkStringOptions(definition?.options, option.options ?? []);
      continue;
    }
    if (option.type !== ApplicationCommandOptionType.String || typeof option.value !== 'string') continue;
    if (definition?.choices?.length && !option.focused) {
      if (!definition.choices.some((choice) => choice.value === option.value)) {
        throw new InputError('input-invalid', { option: option.name });
      }
      continue;
    }
    const max = definition?.max_length ?? DEFAULT_STRING_MAX;
    if (option.value.length > max) {
      throw new InputError('input-too-long', { option: option.name, max, length: option.value.length });
    }
  }
}
