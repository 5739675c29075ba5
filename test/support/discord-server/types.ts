/**
 * The server's public types: what a test passes in and gets back (Discord's wire format where it can).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { APIApplicationCommand, APIMessage, ChannelType } from 'discord.js';
import type { DiscordOAuth2 } from '../discord-oauth2.js';

/** A message object exactly as the server returned it to the bot (Discord's wire format). */
export type Message = APIMessage;
export type RegisteredCommand = APIApplicationCommand;

export interface TestUser {
  readonly id: string;
  readonly username: string;
  readonly globalName: string | null;
  /** Avatar hash, served under `cdnUrl` when the user was created with avatar bytes. */
  readonly avatar: string | null;
  readonly bot: boolean;
}

export interface TestGuild {
  readonly id: string;
  readonly name: string;
  readonly ownerId: string;
  /** The guild's default text channel; interactions happen here unless told otherwise. */
  readonly channelId: string;
}

export interface TestRole {
  readonly id: string;
  readonly guildId: string;
  readonly name: string;
  /** Permission bitfield as a decimal string, as Discord sends it. */
  readonly permissions: string;
}

export interface TestChannel {
  readonly id: string;
  readonly guildId: string | null;
  readonly name: string;
  readonly type: number;
}

export interface StoredFile {
  readonly name: string;
  readonly bytes: Buffer;
  readonly contentType: string;
}

export interface UploadedFile extends StoredFile {
  /** The multipart field name, e.g. `files[0]`. */
  readonly field: string;
}

/** One HTTP request the bot made to the API (everything under `/api`). */
export interface RecordedCall {
  readonly method: string;
  /** Decoded path without query, e.g. `/api/v10/webhooks/1/tok/messages/@original`. */
  readonly path: string;
  /** The matched route, e.g. `PATCH /webhooks/:app/:token/messages/:message`; `unknown` when none matched. */
  readonly route: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the parsed `payload_json` of a multipart body; undefined when empty. */
  readonly body: unknown;
  readonly files: readonly UploadedFile[];
  /** `performance.now()` when the request arrived (before its body was read). */
  readonly receivedAt: number;
  readonly status: number;
  readonly response: unknown;
  /** True when no route matched: the bot called something this server (and the tests) did not expect. */
  readonly unexpected: boolean;
}

export interface InteractionCallback {
  /** InteractionResponseType: 4 reply, 5 defer, 6 deferUpdate, 7 update, 8 autocomplete, 9 modal. */
  readonly type: number;
  readonly data: Readonly<Record<string, unknown>> | undefined;
  readonly files: readonly UploadedFile[];
  readonly receivedAt: number;
  /** 204/200 when accepted; 400 (already acknowledged, invalid) or 404 (unknown/expired interaction). */
  readonly status: number;
  readonly withResponse: boolean;
}

/** A message the bot posted with `POST /channels/{id}/messages` (channel posts and DMs). */
export interface PostedMessage {
  readonly message: Message;
  readonly channelId: string;
  readonly guildId: string | null;
  /** The recipient when the channel is a DM. */
  readonly recipientId: string | null;
  readonly files: readonly StoredFile[];
  readonly receivedAt: number;
}

/** One GET of a file this server hosts (attachments, `serveFile`, redirects, avatars). */
export interface Download {
  readonly path: string;
  readonly receivedAt: number;
  readonly status: number;
  readonly bytesSent: number;
  readonly completed: boolean;
  /** The client hung up before the body was complete. */
  readonly aborted: boolean;
}

export interface GatewaySessionInfo {
  readonly sessionId: string;
  /** 0 for the first session that identified, 1 for the next, ... */
  readonly index: number;
  readonly shard: readonly [number, number];
  readonly intents: number;
  readonly connected: boolean;
  /** READY and every GUILD_CREATE have been sent. */
  readonly ready: boolean;
  readonly resumes: number;
}

export interface AttachmentInput {
  filename: string;
  /** Served by this server; the attachment's url points here. */
  bytes?: Buffer;
  /** Used as is instead of bytes (e.g. `server.serveRedirect(...)` or a slow `serveFile`). */
  url?: string;
  /** Declared size; defaults to bytes.length. Lets a test lie about the size. */
  size?: number;
  contentType?: string;
  width?: number;
  height?: number;
}

export type OptionValue =
  | string
  | number
  | boolean
  | { attachment: AttachmentInput }
  | { user: TestUser | string }
  | { channel: string }
  | { role: string };

export interface CommandInput {
  name: string;
  subcommandGroup?: string;
  subcommand?: string;
  /**
   * Option values by name. Types come from the registered command definition when there is one
   * (so `4` becomes an INTEGER or a NUMBER as the command declares); otherwise they are inferred.
   */
  options?: Record<string, OptionValue>;
}

export interface DispatchOptions {
  /** Guild to run in; defaults to the default guild; `null` runs in the user's DM with the bot. */
  guildId?: string | null;
  /** Channel to run in; defaults to the guild's default channel. */
  channelId?: string;
  /** Gateway session to deliver to; default: round-robin over the connected sessions owning the guild. */
  sessionId?: string;
  locale?: string;
  /** Window for the first callback; default the server's `interactionTimeoutMs` (3000, as Discord). */
  ackTimeoutMs?: number;
  /**
   * The app was added to the user's account, not to the server: `authorizing_integration_owners` has only
   * "1" (the user), as Discord sends for a user-installed app; `context` 0 in a guild, 1 in the bot's DM.
   */
  userInstall?: boolean;
}

/** A channel permission overwrite, as Discord stores it: type 0 a role (or @everyone: the guild id), 1 a member. */
export interface PermissionOverwriteInput {
  id: string;
  type: 0 | 1;
  allow?: bigint;
  deny?: bigint;
}

export interface ComponentOptions {
  /** Who clicks; defaults to the user who ran the interaction (or the DM's recipient). */
  user?: TestUser;
  /** The message carrying the component; defaults to @original, then the follow-ups (newest first). */
  message?: Message | string;
  /** How long to wait for a message carrying an enabled component with that custom_id. */
  timeoutMs?: number;
  sessionId?: string;
  /** The clicking user's client language; by default that of the interaction the component belongs to (the same user's client), else en-US. */
  locale?: string;
}

export type ModalFieldValue = string | string[] | { attachments: AttachmentInput[] };

export interface ModalData {
  readonly custom_id: string;
  readonly title: string;
  readonly components: readonly unknown[];
}

export interface AutocompleteChoice {
  readonly name: string;
  readonly value: string | number;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Returns a reply to short-circuit a request (e.g. a 500 or a 403), or undefined to let it through. */
export type Interceptor = (call: RecordedCall) => Reply | undefined;

export interface MemberInput {
  id?: string;
  username?: string;
  globalName?: string | null;
  /** Role ids (create them with addRole). */
  roles?: string[];
  /** Extra permissions, given through a role `perms-<bits>` created on demand. */
  permissions?: bigint | string;
  guildId?: string;
  nick?: string | null;
  avatar?: Buffer;
}

export interface DiscordServerOptions {
  botToken?: string;
  applicationId?: string;
  botUsername?: string;
  /** The shard count GET /gateway/bot recommends (default 1); `addGuild({ shard })` places a guild on one of them. */
  shards?: number;
  /** GET /gateway/bot's `session_start_limit.max_concurrency`: identifies allowed per 5 s (default 1, most bots'). */
  maxConcurrency?: number;
  /** HELLO's heartbeat_interval (default 41250, Discord's). */
  heartbeatIntervalMs?: number;
  /** Window for an interaction's first callback (default 3000, Discord's). Infinity disables. */
  interactionTimeoutMs?: number;
  /** Default timeout of the waitFor* helpers (default 5000). */
  timeoutMs?: number;
  /** Permissions of the bot's managed role, on top of @everyone's (default: none). */
  botPermissions?: bigint;
  /** The `attachment_size_limit` sent with interactions (default 10 MiB). */
  attachmentSizeLimit?: number;
  log?: (line: string) => void;
}

export interface Interaction {
  readonly id: string;
  readonly token: string;
  /** InteractionType: 2 command, 3 component, 4 autocomplete, 5 modal submit. */
  readonly type: number;
  readonly user: TestUser;
  readonly guildId: string | null;
  readonly channelId: string;
  readonly sessionId: string;
  /** The INTERACTION_CREATE payload (`d`) as dispatched. */
  readonly payload: Readonly<Record<string, unknown>>;
  /** `performance.now()` just before the dispatch was written to the gateway. */
  readonly sentAt: number;
  readonly callbacks: readonly InteractionCallback[];
  readonly acknowledged: boolean;
  /** Ack latency in ms (first accepted callback), once there is one. */
  readonly ackMs: number | undefined;
  /** The current state of @original (undefined before a reply/defer, or after it was deleted). */
  readonly original: Message | undefined;
  readonly followUps: readonly Message[];
  /** The reply (or defer) carries the EPHEMERAL flag. */
  readonly ephemeral: boolean;
  /** Files attached to the current @original. */
  readonly files: readonly StoredFile[];
  /** The modal the bot answered with (callback type 9), if any. */
  readonly modal: ModalData | undefined;
  /** The choices the bot answered an autocomplete with (callback type 8), if any. */
  readonly choices: readonly AutocompleteChoice[] | undefined;
  /** Time from dispatch to the first callback, accepted or not (a late ack still has a latency). */
  firstResponseMs(timeoutMs?: number): Promise<number>;
  waitForAck(timeoutMs?: number): Promise<InteractionCallback>;
  /**
   * The latest @original matching the predicate. Default predicate: this interaction has written
   * @original (reply, update or edit) and it is not a "thinking…" placeholder.
   */
  waitForReply(predicate?: (message: Message) => boolean, timeoutMs?: number): Promise<Message>;
  waitForFollowUp(predicate?: (message: Message) => boolean, timeoutMs?: number): Promise<Message>;
  waitForModal(timeoutMs?: number): Promise<ModalData>;
  /** Clicks a button (type 3, component_type 2) on @original or a follow-up. */
  click(customId: string, userOrOptions?: TestUser | ComponentOptions): Promise<Interaction>;
  /** Picks values in a select menu (string, user, role, mentionable or channel select). */
  select(customId: string, values: string[], userOrOptions?: TestUser | ComponentOptions): Promise<Interaction>;
  /** Submits the modal the bot showed (waits for it); values by the inputs' custom_id. */
  submitModal(fields: Record<string, ModalFieldValue>, user?: TestUser): Promise<Interaction>;
  submitModal(customId: string, fields: Record<string, ModalFieldValue>, user?: TestUser): Promise<Interaction>;
}

export interface DiscordServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** What the bot passes as `rest.api`: `http://127.0.0.1:PORT/api`. */
  readonly apiUrl: string;
  /** What the bot may pass as `rest.cdn` to fetch user avatars from here. */
  readonly cdnUrl: string;
  readonly gatewayUrl: string;
  readonly applicationId: string;
  readonly botToken: string;
  readonly botUser: TestUser;
  /** OAuth2 (sign in with Discord): the client secret, redirect URIs, browser sessions, issued codes. */
  readonly oauth2: DiscordOAuth2;
  /** The default guild (owned by a separate owner user, so default members are not admins). */
  readonly guild: TestGuild;
  /** Every API request, in arrival order. */
  readonly calls: readonly RecordedCall[];
  /** Requests that matched no route. A clean run has none. */
  readonly unexpectedCalls: readonly RecordedCall[];
  /** Registered commands, global and per guild (`guild_id` set). */
  readonly commands: readonly RegisteredCommand[];
  /** Messages the bot posted to channels and DMs. */
  readonly messages: readonly PostedMessage[];
  readonly downloads: readonly Download[];
  readonly interactions: readonly Interaction[];
  readonly sessions: readonly GatewaySessionInfo[];

  addUser(input?: { id?: string; username?: string; globalName?: string | null; avatar?: Buffer }): TestUser;
  addMember(input?: MemberInput): TestUser;
  addRole(input?: { name?: string; permissions?: bigint | string; guildId?: string }): TestRole;
  /** `withBot: false`: a server the bot was never added to (no GUILD_CREATE; only a user install reaches it). */
  /** `shard`: an id that `(guild_id >> 22) % shards` deals to that shard of the recommended count (`shards`). */
  addGuild(input?: { name?: string; ownerId?: string; withBot?: boolean; preferredLocale?: string; shard?: number }): TestGuild;
  addChannel(input?: { guildId?: string; name?: string; type?: number }): TestChannel;
  /**
   * A DM between users (two recipients) or a group DM (type GroupDM, owned by the first): a channel the bot
   * is not in. A command run there (`channelId`) is `context` 2 (PRIVATE_CHANNEL), reached only through a
   * user install; the bot can answer the interaction but cannot read or post in the channel (50001).
   */
  addPrivateChannel(input: { recipients: readonly TestUser[]; type?: ChannelType.DM | ChannelType.GroupDM; name?: string }): TestChannel;
  /** Replaces a channel's permission overwrites (CHANNEL_UPDATE is sent to the bot). */
  setChannelOverwrites(channelId: string, overwrites: PermissionOverwriteInput[]): void;
  /** The member leaves the guild (GUILD_MEMBER_REMOVE to sessions with the GuildMembers intent). */
  removeMember(userId: string, guildId?: string): void;
  /** A member's permissions in a channel, overwrites applied as Discord computes them. */
  permissionsIn(channelId: string, userId: string): bigint;
  /** DMs to this user fail like Discord's 50007 "Cannot send messages to this user". */
  setDmsClosed(userId: string, closed?: boolean): void;
  /** Adds a request interceptor; returns a function removing it. */
  intercept(interceptor: Interceptor): () => void;

  /** Hosts bytes; returns their http URL on this server. */
  serveFile(
    name: string,
    bytes: Buffer,
    options?: {
      contentType?: string;
      /** Stream slowly: `chunkSize` bytes every `intervalMs`. */
      chunkSize?: number;
      intervalMs?: number;
      /** Send Content-Length (default true); false streams chunked without a declared length. */
      contentLength?: boolean;
      status?: number;
    },
  ): string;
  /** A URL on this server that redirects to `location`. */
  serveRedirect(location: string, status?: number): string;

  /** Resolves once `sessions` (default 1) gateway sessions are connected and have their guilds. */
  waitForBot(options?: { sessions?: number; timeoutMs?: number }): Promise<void>;
  slash(user: TestUser, command: CommandInput, options?: DispatchOptions): Promise<Interaction>;
  /** Sends an autocomplete for `focused` (its value is the text typed so far) and resolves with the choices. */
  autocomplete(
    user: TestUser,
    command: CommandInput,
    focused: string,
    options?: DispatchOptions & { timeoutMs?: number },
  ): Promise<AutocompleteChoice[]>;
  /** Clicks a button on any message the bot sent (e.g. a DM). */
  click(message: Message | string, customId: string, options?: ComponentOptions): Promise<Interaction>;
  select(message: Message | string, customId: string, values: string[], options?: ComponentOptions): Promise<Interaction>;

  waitForMessage(predicate: (posted: PostedMessage) => boolean, timeoutMs?: number): Promise<PostedMessage>;
  waitForDm(userId: string, predicate?: (message: Message) => boolean, timeoutMs?: number): Promise<PostedMessage>;
  waitForCall(predicate: (call: RecordedCall) => boolean, timeoutMs?: number): Promise<RecordedCall>;
  /** Polls `check` on every state change until it returns something other than undefined/false. */
  waitFor<T>(check: () => T | undefined | false, timeoutMs?: number, description?: string | (() => string)): Promise<T>;
  /** The current state of a message by id. */
  message(id: string): Message | undefined;
  filesOf(message: Message | string): StoredFile[];
  /** Closes the gateway connections with `code` (default 4000, which discord.js answers by resuming). */
  dropGatewayConnections(code?: number): void;
  /** Closes gateway connections (terminal close code, so clients stop reconnecting), sockets and the listener. */
  close(): Promise<void>;
}
