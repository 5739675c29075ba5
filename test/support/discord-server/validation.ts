/**
 * Validation: the mistakes Discord rejects and a bot is likely to make (callbacks out of order, message and command bodies, modals).
 */
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  MessageFlags,
} from 'discord.js';
import type { OptionValue, Reply } from './types.js';
import { type JsonObject, apiError, asArray, asNumber, asObject, asString, componentsOf, invalidForm, isObject } from './helpers.js';
import type { InteractionState } from './state.js';

export function allowedCallbacks(state: InteractionState): number[] {
  switch (state.type) {
    case InteractionType.ApplicationCommand:
      return [
        InteractionResponseType.ChannelMessageWithSource,
        InteractionResponseType.DeferredChannelMessageWithSource,
        InteractionResponseType.Modal,
      ];
    case InteractionType.MessageComponent:
      return [
        InteractionResponseType.ChannelMessageWithSource,
        InteractionResponseType.DeferredChannelMessageWithSource,
        InteractionResponseType.DeferredMessageUpdate,
        InteractionResponseType.UpdateMessage,
        InteractionResponseType.Modal,
      ];
    case InteractionType.ApplicationCommandAutocomplete:
      return [InteractionResponseType.ApplicationCommandAutocompleteResult];
    case InteractionType.ModalSubmit:
      return state.sourceMessageId
        ? [
            InteractionResponseType.ChannelMessageWithSource,
            InteractionResponseType.DeferredChannelMessageWithSource,
            InteractionResponseType.DeferredMessageUpdate,
            InteractionResponseType.UpdateMessage,
          ]
        : [InteractionResponseType.ChannelMessageWithSource, InteractionResponseType.DeferredChannelMessageWithSource];
    default:
      return [];
  }
}

export function validateMessage(wire: JsonObject): Reply | undefined {
  const content = asString(wire.content) ?? '';
  if (content.length > 2000) return invalidForm('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
  const embeds = (asArray(wire.embeds) ?? []).filter(isObject);
  if (embeds.length > 10) return invalidForm('embeds', 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  let embedTotal = 0;
  for (const [index, embed] of embeds.entries()) {
    const title = asString(embed.title) ?? '';
    const description = asString(embed.description) ?? '';
    const fields = (asArray(embed.fields) ?? []).filter(isObject);
    if (title.length > 256) return invalidForm(`embeds.${index}.title`, 'BASE_TYPE_MAX_LENGTH', 'Must be 256 or fewer in length.');
    if (description.length > 4096) {
      return invalidForm(`embeds.${index}.description`, 'BASE_TYPE_MAX_LENGTH', 'Must be 4096 or fewer in length.');
    }
    if (fields.length > 25) return invalidForm(`embeds.${index}.fields`, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
    for (const [fieldIndex, field] of fields.entries()) {
      if ((asString(field.name) ?? '').length > 256) {
        return invalidForm(`embeds.${index}.fields.${fieldIndex}.name`, 'BASE_TYPE_MAX_LENGTH', 'Must be 256 or fewer in length.');
      }
      if ((asString(field.value) ?? '').length > 1024) {
        return invalidForm(`embeds.${index}.fields.${fieldIndex}.value`, 'BASE_TYPE_MAX_LENGTH', 'Must be 1024 or fewer in length.');
      }
    }
    if ((asString(asObject(embed.footer)?.text) ?? '').length > 2048) {
      return invalidForm(`embeds.${index}.footer.text`, 'BASE_TYPE_MAX_LENGTH', 'Must be 2048 or fewer in length.');
    }
    if ((asString(asObject(embed.author)?.name) ?? '').length > 256) {
      return invalidForm(`embeds.${index}.author.name`, 'BASE_TYPE_MAX_LENGTH', 'Must be 256 or fewer in length.');
    }
    embedTotal += title.length + description.length;
    for (const field of fields) embedTotal += (asString(field.name) ?? '').length + (asString(field.value) ?? '').length;
    embedTotal += (asString(asObject(embed.footer)?.text) ?? '').length + (asString(asObject(embed.author)?.name) ?? '').length;
  }
  if (embedTotal > 6000) return invalidForm('embeds', 'MESSAGE_EMBEDS_TOO_LARGE', 'Embed size exceeds maximum size of 6000');
  const components = asArray(wire.components) ?? [];
  const componentsV2 = ((asNumber(wire.flags) ?? 0) & MessageFlags.IsComponentsV2) !== 0;
  if (!componentsV2 && components.length > 5) {
    return invalidForm('components', 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
  }
  const seen = new Set<string>();
  for (const component of componentsOf(wire)) {
    const customId = String(component.custom_id);
    if (customId.length === 0 || customId.length > 100) {
      return invalidForm('components', 'BASE_TYPE_BAD_LENGTH', 'custom_id must be between 1 and 100 in length.');
    }
    if (seen.has(customId)) return invalidForm('components', 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
    seen.add(customId);
    if ((asString(component.label) ?? '').length > 80) {
      return invalidForm('components', 'BASE_TYPE_MAX_LENGTH', 'Must be 80 or fewer in length.');
    }
    if ((asString(component.placeholder) ?? '').length > 150) {
      return invalidForm('components', 'BASE_TYPE_MAX_LENGTH', 'Must be 150 or fewer in length.');
    }
    const selectOptions = (asArray(component.options) ?? []).filter(isObject);
    if (selectOptions.length > 25) return invalidForm('components', 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
    for (const option of selectOptions) {
      for (const key of ['label', 'value', 'description']) {
        if ((asString(option[key]) ?? '').length > 100) return invalidForm(`components.options.${key}`, 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.');
      }
    }
  }
  const attachments = asArray(wire.attachments) ?? [];
  const empty =
    content.trim() === '' &&
    embeds.length === 0 &&
    components.length === 0 &&
    attachments.length === 0 &&
    !wire.poll &&
    !((asNumber(wire.flags) ?? 0) & MessageFlags.Loading);
  if (empty) return apiError(400, 50006, 'Cannot send an empty message');
  return undefined;
}

const COMMAND_NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

export function validateCommand(entry: unknown, path: string): Reply | undefined {
  const command = asObject(entry);
  if (!command) return invalidForm(path, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
  const name = asString(command.name) ?? '';
  const type = asNumber(command.type) ?? ApplicationCommandType.ChatInput;
  if (type === ApplicationCommandType.ChatInput) {
    if (!COMMAND_NAME.test(name) || name !== name.toLowerCase()) {
      return invalidForm(`${path}.name`, 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    }
    const description = asString(command.description) ?? '';
    if (description.length < 1 || description.length > 100) {
      return invalidForm(`${path}.description`, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
  } else if (name.length < 1 || name.length > 32) {
    return invalidForm(`${path}.name`, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
  }
  const reach =
    validateEnumList(command.integration_types, INTEGRATION_TYPES, `${path}.integration_types`) ??
    validateEnumList(command.contexts, INTERACTION_CONTEXTS, `${path}.contexts`);
  if (reach) return reach;
  return validateOptions(asArray(command.options) ?? [], `${path}.options`);
}

const INTEGRATION_TYPES: readonly number[] = [ApplicationIntegrationType.GuildInstall, ApplicationIntegrationType.UserInstall];
export const INTERACTION_CONTEXTS: readonly number[] = [InteractionContextType.Guild, InteractionContextType.BotDM, InteractionContextType.PrivateChannel];

/** `integration_types` / `contexts`: absent, null, or a list of known values (Discord answers 50035 otherwise). */
function validateEnumList(raw: unknown, allowed: readonly number[], path: string): Reply | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) return invalidForm(path, 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
  for (const [index, value] of raw.entries()) {
    if (typeof value !== 'number' || !allowed.includes(value)) {
      return invalidForm(`${path}.${index}`, 'ENUM_TYPE_COERCE', `Value "${String(value)}" is not a valid enum value.`);
    }
  }
  return undefined;
}

function validateOptions(options: unknown[], path: string): Reply | undefined {
  if (options.length > 25) return invalidForm(path, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
  let optionalSeen = false;
  const names = new Set<string>();
  for (const [index, raw] of options.entries()) {
    const option = asObject(raw);
    if (!option) return invalidForm(`${path}.${index}`, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
    const name = asString(option.name) ?? '';
    if (!COMMAND_NAME.test(name) || name !== name.toLowerCase()) {
      return invalidForm(`${path}.${index}.name`, 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    }
    if (names.has(name)) return invalidForm(`${path}.${index}.name`, 'APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS', 'Option names must be unique');
    names.add(name);
    const description = asString(option.description) ?? '';
    if (description.length < 1 || description.length > 100) {
      return invalidForm(`${path}.${index}.description`, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
    const type = asNumber(option.type);
    if (type === ApplicationCommandOptionType.Subcommand || type === ApplicationCommandOptionType.SubcommandGroup) {
      const nested = validateOptions(asArray(option.options) ?? [], `${path}.${index}.options`);
      if (nested) return nested;
      continue;
    }
    if (option.required === true && optionalSeen) {
      return invalidForm(
        `${path}.${index}`,
        'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID',
        'Required options must be placed before non-required options',
      );
    }
    if (option.required !== true) optionalSeen = true;
    if (option.autocomplete === true && Array.isArray(option.choices) && option.choices.length > 0) {
      return invalidForm(`${path}.${index}`, 'APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_AND_CHOICES', 'Autocomplete cannot be used with choices');
    }
  }
  return undefined;
}

export function validateChoices(raw: unknown): Reply | undefined {
  const choices = asArray(raw);
  if (!choices) return invalidForm('data.choices', 'BASE_TYPE_REQUIRED', 'This field is required');
  if (choices.length > 25) return invalidForm('data.choices', 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
  for (const [index, choice] of choices.entries()) {
    const name = asString(asObject(choice)?.name) ?? '';
    if (name.length < 1 || name.length > 100) {
      return invalidForm(`data.choices.${index}.name`, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
    const value = asObject(choice)?.value;
    if (typeof value === 'string' && value.length > 100) {
      return invalidForm(`data.choices.${index}.value`, 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.');
    }
  }
  return undefined;
}

export function validateModal(data: JsonObject | undefined): Reply | undefined {
  if (!data) return invalidForm('data', 'BASE_TYPE_REQUIRED', 'This field is required');
  const title = asString(data.title) ?? '';
  if (title.length < 1 || title.length > 45) return invalidForm('data.title', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 45 in length.');
  const customId = asString(data.custom_id) ?? '';
  if (customId.length < 1 || customId.length > 100) {
    return invalidForm('data.custom_id', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  }
  const components = asArray(data.components) ?? [];
  if (components.length < 1 || components.length > 5) {
    return invalidForm('data.components', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
  }
  const labelled = (node: unknown): boolean => {
    const component = asObject(node);
    if (!component) return true;
    if ((asString(component.label) ?? '').length > 45) return false;
    return (asArray(component.components) ?? []).every(labelled) && labelled(component.component);
  };
  if (!components.every(labelled)) return invalidForm('data.components', 'BASE_TYPE_MAX_LENGTH', 'Label must be 45 or fewer in length.');
  return undefined;
}

export function inferOptionType(value: OptionValue): number {
  if (typeof value === 'string') return ApplicationCommandOptionType.String;
  if (typeof value === 'boolean') return ApplicationCommandOptionType.Boolean;
  if (typeof value === 'number') return Number.isInteger(value) ? ApplicationCommandOptionType.Integer : ApplicationCommandOptionType.Number;
  if ('attachment' in value) return ApplicationCommandOptionType.Attachment;
  if ('user' in value) return ApplicationCommandOptionType.User;
  if ('channel' in value) return ApplicationCommandOptionType.Channel;
  return ApplicationCommandOptionType.Role;
}
