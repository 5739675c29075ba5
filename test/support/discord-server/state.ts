/**
 * The server's internal state: guilds, members, channels, stored messages, interactions, CDN files, gateway sessions, routes.
 */
import { ChannelType, InteractionContextType } from 'discord.js';
import { WebSocket } from 'ws';
import type { AutocompleteChoice, InteractionCallback, ModalData, PermissionOverwriteInput, RecordedCall, Reply, StoredFile, TestUser, UploadedFile } from './types.js';
import type { JsonObject } from './helpers.js';

export interface RoleState {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
  botId?: string;
}

export interface MemberState {
  userId: string;
  roles: string[];
  joinedAt: string;
  nick: string | null;
}

export interface ChannelState {
  id: string;
  guildId: string | null;
  name: string;
  type: number;
  position: number;
  /** The bot's DM: the user it is with. */
  recipientId?: string;
  /** A DM between users or a group DM (no bot in it): its members, and a group DM's owner. */
  recipientIds?: string[];
  ownerId?: string;
  lastMessageId: string | null;
  overwrites?: PermissionOverwriteInput[];
}

export interface GuildState {
  id: string;
  name: string;
  ownerId: string;
  defaultChannelId: string;
  channels: Map<string, ChannelState>;
  roles: Map<string, RoleState>;
  members: Map<string, MemberState>;
  /** What Discord sends as `preferred_locale` (a Community server's language); 'en-US' by default. */
  preferredLocale: string;
}

export interface StoredMessage {
  wire: JsonObject;
  files: Map<string, StoredFile>;
  channelId: string;
  deleted: boolean;
}

export interface InteractionState {
  id: string;
  token: string;
  type: number;
  user: TestUser;
  guild: GuildState | undefined;
  channel: ChannelState;
  sessionId: string;
  payload: JsonObject;
  sentAt: number;
  ackTimeoutMs: number;
  callbacks: InteractionCallback[];
  acknowledged: boolean;
  /** The message carrying the component (component interactions, modals opened from them). */
  sourceMessageId: string | undefined;
  originalId: string | undefined;
  /** How many times this interaction wrote @original with visible content (reply, update, edit). */
  originalWrites: number;
  followUpIds: string[];
  modal: ModalData | undefined;
  choices: AutocompleteChoice[] | undefined;
  /** `interaction_metadata` of the messages this interaction creates. */
  metadata: JsonObject;
  commandName: string | undefined;
}

export interface CdnFile {
  kind: 'file';
  bytes: Buffer;
  contentType: string;
  chunkSize?: number;
  intervalMs?: number;
  contentLength: boolean;
  status: number;
}

export interface CdnRedirect {
  kind: 'redirect';
  location: string;
  status: number;
}

export interface GatewaySession {
  id: string;
  index: number;
  ws: WebSocket | null;
  shard: [number, number];
  intents: number;
  seq: number;
  ready: boolean;
  resumes: number;
  /** Sent dispatches, replayed on RESUME. */
  buffer: Array<{ s: number; data: string }>;
}

export interface GatewayConnection {
  ws: WebSocket;
  session: GatewaySession | undefined;
}

export interface RequestContext {
  call: MutableCall;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  files: UploadedFile[];
}

export type Handler = (context: RequestContext) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  segments: string[];
  name: string;
  auth: boolean;
  handler: Handler;
}

export type MutableCall = { -readonly [K in keyof RecordedCall]: RecordedCall[K] };

export interface CommandContext {
  user: TestUser;
  guild: GuildState | undefined;
  channel: ChannelState;
}

export const REPLAY_BUFFER_LIMIT = 500;

export const guildMember = (guild: GuildState, userId: string): MemberState | undefined => guild.members.get(userId);

/** `context` as Discord sends it: in a server, in the DM with the bot, or in any other DM or group DM. */
export const interactionContextOf = (context: CommandContext): InteractionContextType =>
  context.guild
    ? InteractionContextType.Guild
    : context.channel.type === ChannelType.DM && context.channel.recipientId === context.user.id
      ? InteractionContextType.BotDM
      : InteractionContextType.PrivateChannel;

export function isStoredMessage(value: StoredMessage | Reply): value is StoredMessage {
  return 'wire' in value;
}

export function isInteractionState(value: InteractionState | Reply): value is InteractionState {
  return 'token' in value;
}
