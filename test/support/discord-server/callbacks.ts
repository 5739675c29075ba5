/**
 * Interaction callbacks and webhooks: the first callback, @original edits, follow-ups, webhook messages and channel posts.
 */
import { InteractionResponseType, InteractionType, MessageFlags, MessageType, PermissionFlagsBits } from 'discord.js';
import type { AutocompleteChoice, Message, ModalData, Reply } from './types.js';
import { type JsonObject, apiError, asArray, asNumber, asObject, invalidForm, isObject } from './helpers.js';
import { type InteractionState, type RequestContext, isInteractionState, isStoredMessage } from './state.js';
import { allowedCallbacks, validateChoices, validateModal } from './validation.js';
import type { LocalDiscord } from './server.js';

/** Mixed into LocalDiscord (./server.ts): `this` is the whole server. */
export class CallbacksMethods {
  onCallback(this: LocalDiscord, { call, params, query, body, files }: RequestContext): Reply {
    const state = this.interactionStates.get(params.id ?? '');
    const withResponse = query.get('with_response') === 'true';
    const record = (status: number, type: number, data: JsonObject | undefined): void => {
      state?.callbacks.push({ type, data, files, receivedAt: call.receivedAt, status, withResponse });
    };
    const request = asObject(body);
    const type = asNumber(request?.type) ?? 0;
    const data = asObject(request?.data);
    if (!state || state.token !== params.token) return apiError(404, 10062, 'Unknown interaction');
    if (!state.acknowledged && call.receivedAt - state.sentAt > state.ackTimeoutMs) {
      record(404, type, data);
      return apiError(404, 10062, 'Unknown interaction');
    }
    if (state.acknowledged) {
      record(400, type, data);
      return apiError(400, 40060, 'Interaction has already been acknowledged.');
    }
    const allowed = allowedCallbacks(state);
    if (!allowed.includes(type)) {
      record(400, type, data);
      return invalidForm('type', 'INTERACTION_RESPONSE_TYPE_INVALID', `Callback type ${type} is not valid for this interaction`);
    }
    let resourceMessage: JsonObject | undefined;
    switch (type) {
      case InteractionResponseType.ChannelMessageWithSource:
      case InteractionResponseType.DeferredChannelMessageWithSource: {
        const deferred = type === InteractionResponseType.DeferredChannelMessageWithSource;
        const requestedFlags = asNumber(data?.flags) ?? 0;
        const message = this.composeMessage({
          channelId: state.channel.id,
          body: deferred ? { content: '', flags: requestedFlags & MessageFlags.Ephemeral } : (data ?? {}),
          uploads: deferred ? [] : files,
          type: state.type === InteractionType.ApplicationCommand ? MessageType.ChatInputCommand : MessageType.Reply,
          extra: this.interactionMessageExtra(state, false),
          forcedFlags: deferred ? MessageFlags.Loading : 0,
        });
        if (!isStoredMessage(message)) {
          record(message.status, type, data);
          return message;
        }
        this.storeMessage(message);
        state.originalId = String(message.wire.id);
        if (!deferred) state.originalWrites += 1;
        resourceMessage = message.wire;
        break;
      }
      case InteractionResponseType.DeferredMessageUpdate:
      case InteractionResponseType.UpdateMessage: {
        const source = state.sourceMessageId ? this.storedMessages.get(state.sourceMessageId) : undefined;
        if (!source || source.deleted) {
          record(404, type, data);
          return apiError(404, 10008, 'Unknown Message');
        }
        if (type === InteractionResponseType.UpdateMessage) {
          const next = this.composeMessage({ channelId: source.channelId, body: data ?? {}, uploads: files, base: source });
          if (!isStoredMessage(next)) {
            record(next.status, type, data);
            return next;
          }
          this.storeMessage(next);
          state.originalWrites += 1;
        }
        state.originalId = source.wire.id as string;
        resourceMessage = this.storedMessages.get(state.originalId)?.wire;
        break;
      }
      case InteractionResponseType.ApplicationCommandAutocompleteResult: {
        const invalid = validateChoices(data?.choices);
        if (invalid) {
          record(400, type, data);
          return invalid;
        }
        state.choices = (asArray(data?.choices) ?? []) as AutocompleteChoice[];
        break;
      }
      case InteractionResponseType.Modal: {
        const invalid = validateModal(data);
        if (invalid) {
          record(400, type, data);
          return invalid;
        }
        state.modal = data as unknown as ModalData;
        break;
      }
      default:
        break;
    }
    state.acknowledged = true;
    record(withResponse ? 200 : 204, type, data);
    if (!withResponse) return { status: 204 };
    const original = resourceMessage;
    const responseFlags = asNumber(original?.flags) ?? 0;
    return {
      status: 200,
      body: {
        interaction: {
          id: state.id,
          type: state.type,
          ...(original
            ? {
                response_message_id: original.id,
                response_message_loading: (responseFlags & MessageFlags.Loading) !== 0,
                response_message_ephemeral: (responseFlags & MessageFlags.Ephemeral) !== 0,
              }
            : {}),
        },
        resource: { type, ...(original ? { message: original } : {}) },
      },
    };
  }

  interactionMessageExtra(this: LocalDiscord, state: InteractionState, followUp: boolean): JsonObject {
    const metadata: JsonObject = { ...state.metadata };
    if (followUp && state.originalId) metadata.original_response_message_id = state.originalId;
    return {
      webhook_id: this.applicationId,
      application_id: this.applicationId,
      interaction_metadata: metadata,
      ...(state.type === InteractionType.ApplicationCommand
        ? { interaction: { id: state.id, type: state.type, name: state.commandName ?? '', user: this.userWire(state.user) } }
        : {}),
    };
  }

  webhookState(this: LocalDiscord, params: Record<string, string>): InteractionState | Reply {
    const state = this.interactionsByToken.get(params.token ?? '');
    if (params.app !== this.applicationId || !state) return apiError(404, 10015, 'Unknown Webhook');
    // Discord only accepts follow-ups and edits once the interaction has been acknowledged.
    if (!state.acknowledged) return apiError(404, 10015, 'Unknown Webhook');
    return state;
  }

  onFollowUp(this: LocalDiscord, { params, query, body, files }: RequestContext): Reply {
    const state = this.webhookState(params);
    if (!isInteractionState(state)) return state;
    // Discord: "Apps are limited to 5 followup messages per interaction if it was initiated from a
    // user-installed app and isn't installed in the server" (authorizing_integration_owners only "1").
    const owners = asObject(state.payload.authorizing_integration_owners) ?? {};
    if (!('0' in owners) && state.followUpIds.length >= 5) return apiError(400, 40094, 'This interaction has hit the maximum number of follow up messages');
    const message = this.composeMessage({
      channelId: state.channel.id,
      body,
      uploads: files,
      type: state.type === InteractionType.ApplicationCommand ? MessageType.ChatInputCommand : MessageType.Default,
      extra: this.interactionMessageExtra(state, true),
    });
    if (!isStoredMessage(message)) return message;
    this.storeMessage(message);
    state.followUpIds.push(String(message.wire.id));
    return query.get('wait') === 'true' ? { status: 200, body: message.wire } : { status: 204 };
  }

  onWebhookMessage(this: LocalDiscord, method: string, { params, body, files }: RequestContext): Reply {
    const state = this.webhookState(params);
    if (!isInteractionState(state)) return state;
    const isOriginal = params.message === '@original';
    const messageId = isOriginal ? state.originalId : params.message;
    const stored = messageId ? this.storedMessages.get(messageId) : undefined;
    const belongs = messageId !== undefined && (messageId === state.originalId || state.followUpIds.includes(messageId));
    if (!stored || stored.deleted || !belongs) return apiError(404, 10008, 'Unknown Message');
    if (method === 'GET') return { status: 200, body: stored.wire };
    if (method === 'DELETE') {
      stored.deleted = true;
      return { status: 204 };
    }
    const next = this.composeMessage({ channelId: stored.channelId, body, uploads: files, base: stored });
    if (!isStoredMessage(next)) return next;
    this.storeMessage(next);
    if (messageId === state.originalId) state.originalWrites += 1;
    return { status: 200, body: next.wire };
  }

  onChannelPost(this: LocalDiscord, { call, params, body, files }: RequestContext): Reply {
    const channel = this.channelById(params.channel ?? '');
    if (!channel) return apiError(404, 10003, 'Unknown Channel');
    // Another DM or a group DM: the bot is not in it, whatever the interaction's app_permissions say.
    if (channel.recipientIds) return apiError(403, 50001, 'Missing Access');
    if (channel.recipientId !== undefined && this.dmsClosed.has(channel.recipientId)) {
      return apiError(403, 50007, 'Cannot send messages to this user');
    }
    if (channel.guildId !== null) {
      if (!this.requireGuild(channel.guildId).members.has(this.botUser.id)) return apiError(403, 50001, 'Missing Access');
      const permissions = this.channelPermissions(channel, this.botUser.id);
      const needed = PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages;
      if ((permissions & needed) !== needed || (files.length > 0 && !(permissions & PermissionFlagsBits.AttachFiles))) {
        return apiError(403, 50013, 'Missing Permissions');
      }
    }
    const requested = asNumber(asObject(body)?.flags) ?? 0;
    const message = this.composeMessage({
      channelId: channel.id,
      body: isObject(body) ? { ...body, flags: requested & ~MessageFlags.Ephemeral } : body,
      uploads: files,
    });
    if (!isStoredMessage(message)) return message;
    this.storeMessage(message);
    this.posted.push({
      message: message.wire as unknown as Message,
      channelId: channel.id,
      guildId: channel.guildId,
      recipientId: channel.recipientId ?? null,
      files: [...message.files.values()],
      receivedAt: call.receivedAt,
    });
    return { status: 200, body: message.wire };
  }
}
