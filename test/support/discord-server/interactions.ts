/**
 * Interactions: slash commands, autocomplete, components and modals as the gateway delivers them, with the options resolved as Discord does.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  ComponentType,
  InteractionContextType,
  InteractionType,
  MessageFlags,
  PermissionFlagsBits,
} from 'discord.js';
import { WebSocket } from 'ws';
import type { AttachmentInput, AutocompleteChoice, CommandInput, ComponentOptions, DispatchOptions, Interaction, Message, ModalFieldValue, OptionValue, TestUser } from './types.js';
import { EVERYONE_PERMISSIONS, type JsonObject, asArray, asNumber, asObject, asString, componentsOf, guessContentType, imageSize, isObject, sanitizeFilename, snowflake } from './helpers.js';
import { type CommandContext, type GatewaySession, type GuildState, type InteractionState, type StoredMessage, guildMember, interactionContextOf } from './state.js';
import { INTERACTION_CONTEXTS, inferOptionType } from './validation.js';
import { InteractionHandle, localeOption } from './interaction-handle.js';
import type { LocalDiscord } from './server.js';

/** Mixed into LocalDiscord (./server.ts): `this` is the whole server. */
export class InteractionsMethods {
  async slash(this: LocalDiscord, user: TestUser, command: CommandInput, options: DispatchOptions = {}): Promise<Interaction> {
    const context = this.commandContext(user, options);
    this.refuseUnoffered(command.name, context, options);
    const { data, commandName } = this.commandData(command, context, undefined);
    return this.dispatchInteraction({
      type: InteractionType.ApplicationCommand,
      context,
      data,
      options,
      metadata: { name: commandName, command_type: ApplicationCommandType.ChatInput },
      commandName,
    });
  }

  async autocomplete(
    this: LocalDiscord,
    user: TestUser,
    command: CommandInput,
    focused: string,
    options: DispatchOptions & { timeoutMs?: number } = {},
  ): Promise<AutocompleteChoice[]> {
    const context = this.commandContext(user, options);
    this.refuseUnoffered(command.name, context, options);
    const { data, commandName } = this.commandData(command, context, focused);
    const handle = await this.dispatchInteraction({
      type: InteractionType.ApplicationCommandAutocomplete,
      context,
      data,
      options,
      metadata: { name: commandName, command_type: ApplicationCommandType.ChatInput },
      commandName,
    });
    const choices = await this.waitFor(
      () => handle.state.choices,
      options.timeoutMs ?? this.timeoutMs,
      `autocomplete choices for /${commandName} (${focused})`,
    );
    return [...choices];
  }

  click(this: LocalDiscord, message: Message | string, customId: string, options: ComponentOptions = {}): Promise<Interaction> {
    return this.componentInteraction({ ...options, message }, customId, undefined, undefined);
  }

  select(this: LocalDiscord, message: Message | string, customId: string, values: string[], options: ComponentOptions = {}): Promise<Interaction> {
    return this.componentInteraction({ ...options, message }, customId, values, undefined);
  }

  /** @internal Used by InteractionHandle and the public click/select. */
  async componentInteraction(
    this: LocalDiscord,
    options: ComponentOptions,
    customId: string,
    values: string[] | undefined,
    parent: InteractionState | undefined,
  ): Promise<Interaction> {
    const wantsSelect = values !== undefined;
    const findTarget = (): { stored: StoredMessage; component: JsonObject } | undefined => {
      const candidates: string[] = [];
      if (options.message !== undefined) {
        candidates.push(typeof options.message === 'string' ? options.message : options.message.id);
      } else if (parent) {
        if (parent.originalId) candidates.push(parent.originalId);
        candidates.push(...[...parent.followUpIds].reverse());
      }
      for (const id of candidates) {
        const stored = this.storedMessages.get(id);
        if (!stored || stored.deleted) continue;
        const component = componentsOf(stored.wire).find(
          (candidate) =>
            candidate.custom_id === customId &&
            candidate.disabled !== true &&
            (wantsSelect ? candidate.type !== ComponentType.Button : candidate.type === ComponentType.Button),
        );
        if (component) return { stored, component };
      }
      return undefined;
    };
    const target = await this.waitFor(findTarget, options.timeoutMs ?? this.timeoutMs, `component ${customId}`).catch(() => {
      const where =
        options.message !== undefined ? 'the given message' : parent ? "the interaction's @original and follow-ups" : 'any message';
      const available = (parent?.originalId ? componentsOf(this.storedMessages.get(parent.originalId)?.wire ?? {}) : [])
        .map((component) => `${String(component.custom_id)}${component.disabled === true ? ' (disabled)' : ''}`)
        .join(', ');
      throw new Error(
        `No enabled ${wantsSelect ? 'select menu' : 'button'} "${customId}" on ${where}` +
          (available ? `; @original has: ${available}` : ''),
      );
    });
    const { stored, component } = target;
    const channel = this.channelById(stored.channelId);
    if (!channel) throw new Error(`The message's channel ${stored.channelId} is unknown`);
    const guild = channel.guildId ? this.guilds.get(channel.guildId) : undefined;
    const user =
      options.user ?? parent?.user ?? (channel.recipientId ? this.users.get(channel.recipientId) : undefined);
    if (!user) throw new Error('Say which user clicks: options.user');
    const flags = asNumber(stored.wire.flags) ?? 0;
    if (flags & MessageFlags.Ephemeral) {
      const viewer = asString(asObject(asObject(stored.wire.interaction_metadata)?.user)?.id);
      if (viewer && viewer !== user.id) throw new Error(`User ${user.id} cannot see an ephemeral message of ${viewer}`);
    }
    const context: CommandContext = { user, guild, channel };
    const data: JsonObject = { custom_id: customId, component_type: component.type };
    if (wantsSelect) {
      this.checkSelectValues(component, values);
      data.values = values;
      const resolved = this.resolveSelectValues(asNumber(component.type) ?? 0, values, context);
      if (resolved) data.resolved = resolved;
    }
    return this.dispatchInteraction({
      type: InteractionType.MessageComponent,
      context,
      data,
      options: {
        ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
        ...localeOption(options.locale ?? (parent && parent.user.id === user.id ? asString(parent.payload.locale) : undefined)),
      },
      metadata: { interacted_message_id: asString(stored.wire.id) },
      sourceMessage: stored,
    });
  }

  checkSelectValues(this: LocalDiscord, component: JsonObject, values: string[]): void {
    const min = asNumber(component.min_values) ?? 1;
    const max = asNumber(component.max_values) ?? 1;
    if (values.length < min || values.length > max) {
      throw new Error(`Select "${String(component.custom_id)}" takes ${min}..${max} values, got ${values.length}`);
    }
    if (component.type === ComponentType.StringSelect) {
      const allowed = new Set((asArray(component.options) ?? []).map((option) => asString(asObject(option)?.value)));
      for (const value of values) {
        if (!allowed.has(value)) throw new Error(`Select "${String(component.custom_id)}" has no option "${value}"`);
      }
    }
  }

  resolveSelectValues(this: LocalDiscord, type: number, values: string[], context: CommandContext): JsonObject | undefined {
    if (type === ComponentType.StringSelect) return undefined;
    const resolved: Record<string, JsonObject> = {};
    for (const value of values) {
      const user = this.users.get(value);
      const role = context.guild?.roles.get(value);
      const channel = this.channelById(value);
      if ((type === ComponentType.UserSelect || type === ComponentType.MentionableSelect) && user) {
        this.addResolvedUser(resolved, user, context.guild);
      } else if ((type === ComponentType.RoleSelect || type === ComponentType.MentionableSelect) && role) {
        (resolved.roles ??= {})[role.id] = this.roleWire(role);
      } else if (type === ComponentType.ChannelSelect && channel) {
        (resolved.channels ??= {})[channel.id] = this.resolvedChannelWire(channel, context);
      } else {
        throw new Error(`Select value ${value} is not a known ${ComponentType[type] ?? type} target`);
      }
    }
    return resolved;
  }

  /** @internal */
  async submitModalFor(this: LocalDiscord, parent: InteractionState, customId: string | undefined, fields: Record<string, ModalFieldValue>, user: TestUser | undefined): Promise<Interaction> {
    const modal = await this.waitFor(() => parent.modal, this.timeoutMs, `a modal (callback type 9) for interaction ${parent.id}`);
    if (customId !== undefined && customId !== modal.custom_id) {
      throw new Error(`The bot showed modal "${modal.custom_id}", not "${customId}"`);
    }
    const context: CommandContext = { user: user ?? parent.user, guild: parent.guild, channel: parent.channel };
    const resolved: Record<string, JsonObject> = {};
    const used = new Set<string>();
    let nextId = 1;
    const submitted = (component: JsonObject): JsonObject => {
      const componentId = asNumber(component.id) ?? nextId++;
      const fieldId = asString(component.custom_id);
      const type = asNumber(component.type) ?? 0;
      if (fieldId === undefined) return { type, id: componentId };
      const value = fields[fieldId];
      if (value !== undefined) used.add(fieldId);
      if (type === ComponentType.TextInput) {
        if (value !== undefined && typeof value !== 'string') throw new Error(`Modal field "${fieldId}" is a text input: give a string`);
        const text = value ?? asString(component.value) ?? '';
        if (text === '' && component.required !== false) throw new Error(`Modal field "${fieldId}" is required`);
        const maxLength = asNumber(component.max_length) ?? 4000;
        if (text.length > maxLength) throw new Error(`Modal field "${fieldId}" takes at most ${maxLength} characters`);
        return { type, id: componentId, custom_id: fieldId, value: text };
      }
      if (type === ComponentType.FileUpload) {
        const attachments = value !== undefined && typeof value === 'object' && !Array.isArray(value) ? value.attachments : [];
        const ids = attachments.map((input) => {
          const wire = this.attachmentFromInput(input, context.channel.id);
          (resolved.attachments ??= {})[String(wire.id)] = wire;
          return String(wire.id);
        });
        return { type, id: componentId, custom_id: fieldId, values: ids };
      }
      const picked = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
      const extra = this.resolveSelectValues(type, picked, context);
      if (extra) for (const [key, entries] of Object.entries(extra)) Object.assign((resolved[key] ??= {}), entries);
      return { type, id: componentId, custom_id: fieldId, values: picked };
    };
    const components = modal.components.map((raw) => {
      const component = asObject(raw) ?? {};
      const type = asNumber(component.type) ?? 0;
      const id = asNumber(component.id) ?? nextId++;
      if (Array.isArray(component.components)) {
        return { type, id, components: component.components.map((child) => submitted(asObject(child) ?? {})) };
      }
      if (isObject(component.component)) return { type, id, component: submitted(component.component) };
      return { type, id };
    });
    const unknown = Object.keys(fields).filter((field) => !used.has(field));
    if (unknown.length > 0) throw new Error(`Modal "${modal.custom_id}" has no input(s) ${unknown.join(', ')}`);
    const data: JsonObject = { custom_id: modal.custom_id, components };
    if (Object.keys(resolved).length > 0) data.resolved = resolved;
    const source = parent.sourceMessageId ? this.storedMessages.get(parent.sourceMessageId) : undefined;
    return this.dispatchInteraction({
      type: InteractionType.ModalSubmit,
      context,
      data,
      options: localeOption(context.user.id === parent.user.id ? asString(parent.payload.locale) : undefined),
      metadata: { triggering_interaction_metadata: parent.metadata },
      ...(source ? { sourceMessage: source } : {}),
    });
  }

  commandContext(this: LocalDiscord, user: TestUser, options: DispatchOptions): CommandContext {
    if (options.channelId !== undefined) {
      const channel = this.channelById(options.channelId);
      if (!channel) throw new Error(`Unknown channel ${options.channelId}`);
      const guild = channel.guildId ? this.requireGuild(channel.guildId) : undefined;
      if (guild && !guild.members.has(user.id)) throw new Error(`${user.username} is not a member of guild ${guild.id}; use addMember`);
      if (channel.recipientIds && !channel.recipientIds.includes(user.id)) throw new Error(`${user.username} is not in the private channel ${channel.id}`);
      return { user, guild, channel };
    }
    if (options.guildId === null) return { user, guild: undefined, channel: this.dmChannelFor(user.id) };
    const guild = this.requireGuild(options.guildId ?? this.guild.id);
    if (!guild.members.has(user.id)) throw new Error(`${user.username} is not a member of guild ${guild.id}; use addMember`);
    const channel = guild.channels.get(guild.defaultChannelId);
    if (!channel) throw new Error(`Guild ${guild.id} has no default channel`);
    return { user, guild, channel };
  }

  /**
   * Discord lists a command only where its registration reaches it: the installation that authorises it
   * (`integration_types`: 0 the server's, 1 the user's) and the kind of channel (`contexts`; null: anywhere,
   * but not in DMs when `dm_permission` is false). A server install needs the bot in that server. Running a
   * command Discord would not show is a test's mistake, so it throws rather than dispatching.
   */
  refuseUnoffered(this: LocalDiscord, name: string, context: CommandContext, options: DispatchOptions): void {
    // In another DM or a group DM only the user's install can be used: it is the default there.
    const privateChannel = interactionContextOf(context) === InteractionContextType.PrivateChannel;
    const install = options.userInstall === true || (privateChannel && options.userInstall === undefined) ? ApplicationIntegrationType.UserInstall : ApplicationIntegrationType.GuildInstall;
    if (install === ApplicationIntegrationType.GuildInstall && context.guild && !guildMember(context.guild, this.botUser.id)) {
      throw new Error(`The bot is not in guild ${context.guild.id}: Discord offers /${name} there only through a user install (userInstall: true)`);
    }
    const definition = this.findCommand(name, context.guild?.id);
    if (!definition || definition.guild_id !== undefined) return; // a guild command: that server's own install
    const where = interactionContextOf(context);
    if (privateChannel && install !== ApplicationIntegrationType.UserInstall) {
      throw new Error(`Discord offers /${name} in another DM or a group DM only through a user install (userInstall: true)`);
    }
    const integrationTypes = asArray(definition.integration_types) ?? [ApplicationIntegrationType.GuildInstall];
    const contexts = asArray(definition.contexts) ?? (definition.dm_permission === false ? [InteractionContextType.Guild] : INTERACTION_CONTEXTS);
    if (!integrationTypes.includes(install)) {
      throw new Error(`Discord does not offer /${name} to a ${install === ApplicationIntegrationType.UserInstall ? 'user' : 'guild'} install: its integration_types are ${JSON.stringify(integrationTypes)}`);
    }
    if (!contexts.includes(where)) {
      throw new Error(`Discord does not offer /${name} in ${InteractionContextType[where]} (context ${where}): its contexts are ${JSON.stringify(contexts)}`);
    }
  }

  findCommand(this: LocalDiscord, name: string, guildId: string | undefined): JsonObject | undefined {
    const scopes = guildId ? [guildId, 'global'] : ['global'];
    for (const scope of scopes) {
      const found = this.commandScopes
        .get(scope)
        ?.find((command) => command.name === name && (command.type ?? ApplicationCommandType.ChatInput) === ApplicationCommandType.ChatInput);
      if (found) return found;
    }
    return undefined;
  }

  commandData(
    this: LocalDiscord,
    command: CommandInput,
    context: CommandContext,
    focused: string | undefined,
  ): { data: JsonObject; commandName: string } {
    const definition = this.findCommand(command.name, context.guild?.id);
    const registered = definition !== undefined;
    let definitions = asArray(definition?.options)?.filter(isObject);
    const findDefinition = (name: string, type?: number): JsonObject | undefined =>
      definitions?.find((option) => option.name === name && (type === undefined || option.type === type));
    const leaf: JsonObject[] = [];
    let top: JsonObject[] = leaf;
    const nameParts = [command.name];
    if (command.subcommandGroup !== undefined) {
      if (command.subcommand === undefined) throw new Error('subcommandGroup needs a subcommand');
      const group = findDefinition(command.subcommandGroup, ApplicationCommandOptionType.SubcommandGroup);
      if (registered && !group) throw new Error(`/${command.name} has no subcommand group "${command.subcommandGroup}"`);
      definitions = asArray(group?.options)?.filter(isObject);
      const sub = findDefinition(command.subcommand, ApplicationCommandOptionType.Subcommand);
      if (registered && !sub) throw new Error(`/${command.name} ${command.subcommandGroup} has no subcommand "${command.subcommand}"`);
      definitions = asArray(sub?.options)?.filter(isObject) ?? (registered ? [] : undefined);
      top = [
        {
          name: command.subcommandGroup,
          type: ApplicationCommandOptionType.SubcommandGroup,
          options: [{ name: command.subcommand, type: ApplicationCommandOptionType.Subcommand, options: leaf }],
        },
      ];
      nameParts.push(command.subcommandGroup, command.subcommand);
    } else if (command.subcommand !== undefined) {
      const sub = findDefinition(command.subcommand, ApplicationCommandOptionType.Subcommand);
      if (registered && !sub) throw new Error(`/${command.name} has no subcommand "${command.subcommand}"`);
      definitions = asArray(sub?.options)?.filter(isObject) ?? (registered ? [] : undefined);
      top = [{ name: command.subcommand, type: ApplicationCommandOptionType.Subcommand, options: leaf }];
      nameParts.push(command.subcommand);
    } else if (
      definitions?.some(
        (option) =>
          option.type === ApplicationCommandOptionType.Subcommand || option.type === ApplicationCommandOptionType.SubcommandGroup,
      )
    ) {
      throw new Error(`/${command.name} needs a subcommand`);
    }

    const resolved: Record<string, JsonObject> = {};
    const given = command.options ?? {};
    for (const [name, value] of Object.entries(given)) {
      const optionDefinition = findDefinition(name);
      if (definitions && !optionDefinition) throw new Error(`/${nameParts.join(' ')} has no option "${name}"`);
      const type = asNumber(optionDefinition?.type) ?? inferOptionType(value);
      if (name === focused) {
        leaf.push({ name, type, value: String(typeof value === 'object' ? '' : value), focused: true });
        continue;
      }
      leaf.push({ name, type, value: this.optionWireValue(name, type, value, context, resolved) });
    }
    if (focused !== undefined && !(focused in given)) {
      const optionDefinition = findDefinition(focused);
      if (definitions && !optionDefinition) throw new Error(`/${nameParts.join(' ')} has no option "${focused}"`);
      leaf.push({ name: focused, type: asNumber(optionDefinition?.type) ?? ApplicationCommandOptionType.String, value: '', focused: true });
    }
    if (focused === undefined && definitions) {
      const missing = definitions.filter((option) => option.required === true && !(String(option.name) in given));
      if (missing.length > 0) {
        throw new Error(`/${nameParts.join(' ')} requires option(s) ${missing.map((option) => String(option.name)).join(', ')}`);
      }
    }
    const data: JsonObject = {
      id: asString(definition?.id) ?? snowflake(),
      name: command.name,
      type: ApplicationCommandType.ChatInput,
    };
    if (definition?.guild_id !== undefined) data.guild_id = definition.guild_id;
    if (top.length > 0) data.options = top;
    if (Object.keys(resolved).length > 0) data.resolved = resolved;
    return { data, commandName: nameParts.join(' ') };
  }

  optionWireValue(
    this: LocalDiscord,
    name: string,
    type: number,
    value: OptionValue,
    context: CommandContext,
    resolved: Record<string, JsonObject>,
  ): string | number | boolean {
    const wrong = (): Error => new Error(`Option "${name}" has type ${ApplicationCommandOptionType[type] ?? type}; got ${JSON.stringify(value)}`);
    switch (type) {
      case ApplicationCommandOptionType.String:
        if (typeof value === 'object') throw wrong();
        return String(value);
      case ApplicationCommandOptionType.Integer:
        if (typeof value !== 'number' || !Number.isInteger(value)) throw wrong();
        return value;
      case ApplicationCommandOptionType.Number:
        if (typeof value !== 'number') throw wrong();
        return value;
      case ApplicationCommandOptionType.Boolean:
        if (typeof value !== 'boolean') throw wrong();
        return value;
      case ApplicationCommandOptionType.User:
      case ApplicationCommandOptionType.Mentionable: {
        if (typeof value === 'object' && 'user' in value) {
          const id = typeof value.user === 'string' ? value.user : value.user.id;
          const user = this.users.get(id);
          if (!user) throw new Error(`Option "${name}": unknown user ${id}`);
          this.addResolvedUser(resolved, user, context.guild);
          return id;
        }
        if (type === ApplicationCommandOptionType.Mentionable && typeof value === 'object' && 'role' in value) {
          const role = context.guild?.roles.get(value.role);
          if (!role) throw new Error(`Option "${name}": unknown role ${value.role}`);
          (resolved.roles ??= {})[role.id] = this.roleWire(role);
          return role.id;
        }
        throw wrong();
      }
      case ApplicationCommandOptionType.Channel: {
        if (typeof value !== 'object' || !('channel' in value)) throw wrong();
        const channel = this.channelById(value.channel);
        if (!channel) throw new Error(`Option "${name}": unknown channel ${value.channel}`);
        (resolved.channels ??= {})[channel.id] = this.resolvedChannelWire(channel, context);
        return channel.id;
      }
      case ApplicationCommandOptionType.Role: {
        if (typeof value !== 'object' || !('role' in value)) throw wrong();
        const role = context.guild?.roles.get(value.role);
        if (!role) throw new Error(`Option "${name}": unknown role ${value.role}`);
        (resolved.roles ??= {})[role.id] = this.roleWire(role);
        return role.id;
      }
      case ApplicationCommandOptionType.Attachment: {
        if (typeof value !== 'object' || !('attachment' in value)) throw wrong();
        const wire = this.attachmentFromInput(value.attachment, context.channel.id);
        (resolved.attachments ??= {})[String(wire.id)] = wire;
        return String(wire.id);
      }
      default:
        throw wrong();
    }
  }

  addResolvedUser(this: LocalDiscord, resolved: Record<string, JsonObject>, user: TestUser, guild: GuildState | undefined): void {
    (resolved.users ??= {})[user.id] = this.userWire(user);
    const member = guild?.members.get(user.id);
    if (guild && member) {
      // Resolved members come without their user (it is in resolved.users).
      const wire = this.memberWire(guild, member);
      delete wire.user;
      (resolved.members ??= {})[user.id] = { ...wire, permissions: this.permissionsOf(guild, user.id).toString() };
    }
  }

  attachmentFromInput(this: LocalDiscord, input: AttachmentInput, channelId: string): JsonObject {
    const id = snowflake();
    const filename = sanitizeFilename(input.filename);
    let url: string;
    let size: number;
    let dimensions: { width: number; height: number } | undefined;
    const contentType = guessContentType(filename, input.contentType);
    if (input.bytes) {
      const path = `/attachments/${channelId}/${id}/${filename}`;
      this.cdn.set(path, { kind: 'file', bytes: input.bytes, contentType, contentLength: true, status: 200 });
      url = `${this.url}${path}`;
      size = input.size ?? input.bytes.length;
      dimensions = imageSize(input.bytes);
    } else if (input.url) {
      url = input.url;
      size = input.size ?? 0;
    } else {
      throw new Error(`Attachment ${input.filename} needs bytes or a url`);
    }
    const width = input.width ?? dimensions?.width;
    const height = input.height ?? dimensions?.height;
    return {
      id,
      filename,
      size,
      url,
      proxy_url: url,
      content_type: contentType,
      ephemeral: true,
      ...(width === undefined ? {} : { width }),
      ...(height === undefined ? {} : { height }),
    };
  }

  async dispatchInteraction(this: LocalDiscord, input: {
    type: number;
    context: CommandContext;
    data: JsonObject;
    options: DispatchOptions;
    metadata: JsonObject;
    commandName?: string;
    sourceMessage?: StoredMessage;
  }): Promise<InteractionHandle> {
    if (this.closed) throw new Error('The Discord test server is closed');
    const { context } = input;
    const session = await this.pickSession(context.guild?.id, input.options.sessionId);
    const id = snowflake();
    const token = `${Buffer.from(`interaction:${id}`).toString('base64url')}.${randomBytes(24).toString('base64url')}`;
    // Guild-install owner: the guild id, or "0" in the bot's DMs; a user install is owned by the user ("1").
    // Another DM or a group DM is reached only through the user's install, clicks on the bot's replies there too.
    const userInstall = input.options.userInstall === true || interactionContextOf(context) === InteractionContextType.PrivateChannel;
    const owners: Record<string, string> = userInstall ? { '1': context.user.id } : { '0': context.guild?.id ?? '0' };
    const payload: JsonObject = {
      id,
      application_id: this.applicationId,
      type: input.type,
      token,
      version: 1,
      data: input.data,
      channel: context.guild
        ? { ...this.channelWire(context.channel), permissions: this.channelPermissions(context.channel, context.user.id).toString() }
        : this.channelWire(context.channel),
      channel_id: context.channel.id,
      // A user-installed app can answer interactions anywhere but is no member of the server: it may not post.
      app_permissions: this.appPermissions(context, userInstall).toString(),
      locale: input.options.locale ?? 'en-US',
      entitlements: [],
      authorizing_integration_owners: owners,
      context: interactionContextOf(context),
      attachment_size_limit: this.attachmentSizeLimit,
    };
    if (context.guild) {
      const member = context.guild.members.get(context.user.id);
      if (!member) throw new Error(`${context.user.username} is not a member of guild ${context.guild.id}`);
      payload.guild_id = context.guild.id;
      payload.guild = { id: context.guild.id, locale: context.guild.preferredLocale, features: [] };
      payload.guild_locale = context.guild.preferredLocale;
      payload.member = {
        ...this.memberWire(context.guild, member),
        permissions: this.permissionsOf(context.guild, context.user.id).toString(),
      };
    } else {
      payload.user = this.userWire(context.user);
    }
    if (input.sourceMessage) payload.message = input.sourceMessage.wire;
    const state: InteractionState = {
      id,
      token,
      type: input.type,
      user: context.user,
      guild: context.guild,
      channel: context.channel,
      sessionId: session.id,
      payload,
      sentAt: 0,
      ackTimeoutMs: input.options.ackTimeoutMs ?? this.interactionTimeoutMs,
      callbacks: [],
      acknowledged: false,
      sourceMessageId: input.sourceMessage ? asString(input.sourceMessage.wire.id) : undefined,
      originalId: undefined,
      originalWrites: 0,
      followUpIds: [],
      modal: undefined,
      choices: undefined,
      metadata: {
        id,
        type: input.type,
        user: this.userWire(context.user),
        authorizing_integration_owners: owners,
        ...input.metadata,
      },
      commandName: input.commandName,
    };
    this.interactionStates.set(id, state);
    this.interactionsByToken.set(token, state);
    const handle = new InteractionHandle(this, state);
    this.handles.push(handle);
    state.sentAt = performance.now();
    await this.dispatch(session, 'INTERACTION_CREATE', payload);
    return handle;
  }

  /**
   * What Discord sends as `app_permissions`: the bot's in a server it is in; for (G)DMs with other users
   * ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE (Discord's interaction object docs); none for a user
   * install in a server without the bot.
   */
  appPermissions(this: LocalDiscord, context: CommandContext, userInstall: boolean): bigint {
    if (context.guild && guildMember(context.guild, this.botUser.id)) return this.channelPermissions(context.channel, this.botUser.id);
    if (interactionContextOf(context) === InteractionContextType.PrivateChannel) {
      return PermissionFlagsBits.AttachFiles | PermissionFlagsBits.EmbedLinks | PermissionFlagsBits.MentionEveryone;
    }
    return userInstall ? 0n : EVERYONE_PERMISSIONS;
  }

  async pickSession(this: LocalDiscord, guildId: string | undefined, sessionId: string | undefined): Promise<GatewaySession> {
    const candidates = (): GatewaySession[] =>
      this.gatewaySessions.filter(
        (session) =>
          session.ready &&
          session.ws?.readyState === WebSocket.OPEN &&
          (sessionId === undefined || session.id === sessionId) &&
          this.sessionOwnsGuild(session, guildId ?? '0'),
      );
    const available = await this.waitFor(
      () => {
        const found = candidates();
        return found.length > 0 ? found : undefined;
      },
      this.timeoutMs,
      `a connected bot session${sessionId ? ` ${sessionId}` : ''} to deliver the interaction to (did the bot log in? see waitForBot)`,
    );
    const chosen = available[this.roundRobin % available.length];
    this.roundRobin += 1;
    if (!chosen) throw new Error('No gateway session');
    return chosen;
  }

  sessionOwnsGuild(this: LocalDiscord, session: GatewaySession, guildId: string): boolean {
    const [shardId, shardCount] = session.shard;
    return Number((BigInt(guildId) >> 22n) % BigInt(shardCount)) === shardId;
  }
}
