/**
 * Messages: composing and storing what the bot posts (content, embeds, components, attachments, mentions).
 */
import { MessageFlags, MessageType } from 'discord.js';
import type { Reply, StoredFile, UploadedFile } from './types.js';
import { CREATE_FLAGS, EDITABLE_FLAGS, type JsonObject, apiError, asArray, asNumber, asObject, asString, guessContentType, imageSize, invalidForm, isObject, sanitizeFilename, snowflake } from './helpers.js';
import type { StoredMessage } from './state.js';
import { validateMessage } from './validation.js';
import type { LocalDiscord } from './server.js';

/** Mixed into LocalDiscord (./server.ts): `this` is the whole server. */
export class MessagesMethods {
  /** Builds a new message (or the next revision of `base`) from a create/edit body; a Reply on invalid input. */
  composeMessage(this: LocalDiscord, input: {
    channelId: string;
    body: unknown;
    uploads: UploadedFile[];
    base?: StoredMessage;
    type?: number;
    extra?: JsonObject;
    forcedFlags?: number;
  }): StoredMessage | Reply {
    const body = input.body === undefined ? {} : asObject(input.body);
    if (!body) return apiError(400, 50109, 'The request body contains invalid JSON.');
    const base = input.base?.wire;
    const pick = (key: string, fallback: unknown): unknown => (key in body ? (body[key] ?? fallback) : (base?.[key] ?? fallback));
    const content = pick('content', '');
    if (typeof content !== 'string') return invalidForm('content', 'STRING_TYPE_CONVERT', 'Could not interpret the value as string.');
    const embeds = pick('embeds', []);
    const components = pick('components', []);
    if (!Array.isArray(embeds)) return invalidForm('embeds', 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    if (!Array.isArray(components)) return invalidForm('components', 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    const requestedFlags = asNumber(body.flags);
    let flags: number;
    if (base) {
      const baseFlags = asNumber(base.flags) ?? 0;
      flags =
        (baseFlags & ~(EDITABLE_FLAGS | MessageFlags.Loading)) |
        (requestedFlags === undefined ? baseFlags & EDITABLE_FLAGS : requestedFlags & EDITABLE_FLAGS);
    } else {
      flags = ((requestedFlags ?? 0) & CREATE_FLAGS) | (input.forcedFlags ?? 0);
    }
    const id = base ? String(base.id) : snowflake();
    const ephemeral = (flags & MessageFlags.Ephemeral) !== 0;
    const { attachments, files } = this.composeAttachments(input.channelId, body, input.uploads, input.base, ephemeral);
    const wire: JsonObject = {
      ...(base ?? {}),
      id,
      type: base?.type ?? input.type ?? MessageType.Default,
      channel_id: input.channelId,
      author: this.userWire(this.botUser),
      content,
      embeds: embeds.map((embed) => (isObject(embed) ? { type: 'rich', ...embed } : embed)),
      components,
      attachments,
      mentions: this.mentionedUsers(content),
      mention_roles: [...content.matchAll(/<@&(\d+)>/g)].map((match) => match[1]),
      mention_everyone: false,
      pinned: false,
      tts: body.tts === true,
      timestamp: base?.timestamp ?? new Date().toISOString(),
      edited_timestamp: base && !((asNumber(base.flags) ?? 0) & MessageFlags.Loading) ? new Date().toISOString() : null,
      flags,
      ...(input.extra ?? {}),
    };
    if (!base && body.nonce !== undefined) wire.nonce = body.nonce;
    const invalid = validateMessage(wire);
    if (invalid) return invalid;
    return { wire, files, channelId: input.channelId, deleted: false };
  }

  composeAttachments(
    this: LocalDiscord,
    channelId: string,
    body: JsonObject,
    uploads: UploadedFile[],
    base: StoredMessage | undefined,
    ephemeral: boolean,
  ): { attachments: JsonObject[]; files: Map<string, StoredFile> } {
    const described = asArray(body.attachments)?.filter(isObject);
    const attachments: JsonObject[] = [];
    const files = new Map<string, StoredFile>();
    if (base) {
      const keep = described ? new Set(described.map((attachment) => String(attachment.id))) : undefined;
      for (const existing of (asArray(base.wire.attachments) ?? []).filter(isObject)) {
        const existingId = String(existing.id);
        if (keep && !keep.has(existingId)) continue;
        attachments.push(existing);
        const file = base.files.get(existingId);
        if (file) files.set(existingId, file);
      }
    }
    uploads.forEach((upload, position) => {
      const index = /^files\[(\d+)\]$/.exec(upload.field)?.[1] ?? String(position);
      const meta = described?.find((attachment) => String(attachment.id) === index);
      const filename = sanitizeFilename(asString(meta?.filename) ?? upload.name);
      const attachmentId = snowflake();
      const contentType = guessContentType(filename, upload.contentType);
      const path = `/attachments/${channelId}/${attachmentId}/${filename}`;
      this.cdn.set(path, { kind: 'file', bytes: upload.bytes, contentType, contentLength: true, status: 200 });
      const dimensions = imageSize(upload.bytes);
      attachments.push({
        id: attachmentId,
        filename,
        size: upload.bytes.length,
        url: `${this.url}${path}`,
        proxy_url: `${this.url}${path}`,
        content_type: contentType,
        ...(asString(meta?.description) === undefined ? {} : { description: meta?.description }),
        ...(dimensions ?? {}),
        ...(ephemeral ? { ephemeral: true } : {}),
      });
      files.set(attachmentId, { name: filename, bytes: upload.bytes, contentType });
    });
    return { attachments, files };
  }

  mentionedUsers(this: LocalDiscord, content: string): JsonObject[] {
    const ids = new Set([...content.matchAll(/<@!?(\d+)>/g)].map((match) => match[1] ?? ''));
    return [...ids].flatMap((id) => {
      const user = this.users.get(id);
      return user ? [this.userWire(user)] : [];
    });
  }

  storeMessage(this: LocalDiscord, message: StoredMessage): void {
    this.storedMessages.set(String(message.wire.id), message);
    const channel = this.channelById(message.channelId);
    if (channel && !((asNumber(message.wire.flags) ?? 0) & MessageFlags.Ephemeral)) channel.lastMessageId = String(message.wire.id);
  }
}
