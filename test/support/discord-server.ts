/**
 * A Discord-compatible REST + gateway server on 127.0.0.1 for the end-to-end tests, the load
 * benchmark and `npm run demo`.
 *
 * The real discord.js `Client` connects to it (`rest: { api: server.apiUrl }`); a test then drives
 * interactions through the gateway (`server.slash(...)`, `interaction.click(...)`, ...) and asserts
 * on what the bot sent back over REST (callbacks, @original edits, follow-ups, DMs, channel posts).
 *
 * Deliberate simplifications: one JSON gateway encoding without compression; permissions are the
 * guild-level computation (no channel overwrites); no rate limiting; no MESSAGE_CREATE echo of the
 * bot's own posts; webhook tokens never expire (only the 3 s window for the first callback does).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  ChannelType,
  ComponentType,
  GatewayCloseCodes,
  GatewayIntentBits,
  GatewayOpcodes,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  MessageFlags,
  MessageType,
  PermissionFlagsBits,
  type APIApplicationCommand,
  type APIMessage,
} from 'discord.js';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { DiscordOAuth2 } from './discord-oauth2.js';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

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
  /** The shard count GET /gateway/bot recommends (default 1). */
  shards?: number;
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
  addGuild(input?: { name?: string; ownerId?: string; withBot?: boolean; preferredLocale?: string }): TestGuild;
  addChannel(input?: { guildId?: string; name?: string; type?: number }): TestChannel;
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

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const asObject = (value: unknown): JsonObject | undefined => (isObject(value) ? value : undefined);
const asArray = (value: unknown): unknown[] | undefined => (Array.isArray(value) ? value : undefined);
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const asNumber = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

const DISCORD_EPOCH = 1_420_070_400_000n;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024;

let lastSnowflakeMs = 0n;
let snowflakeIncrement = 0n;
/** Unique, increasing snowflakes (so `createdTimestamp` is now, and ids sort by creation). */
function snowflake(): string {
  let ms = BigInt(Date.now()) - DISCORD_EPOCH;
  if (ms <= lastSnowflakeMs) {
    ms = lastSnowflakeMs;
    snowflakeIncrement += 1n;
    if (snowflakeIncrement > 0xfffn) {
      ms += 1n;
      snowflakeIncrement = 0n;
    }
  } else {
    snowflakeIncrement = 0n;
  }
  lastSnowflakeMs = ms;
  return ((ms << 22n) | snowflakeIncrement).toString();
}

const ALL_PERMISSIONS = Object.values(PermissionFlagsBits).reduce((all, bit) => all | bit, 0n);

const EVERYONE_PERMISSIONS =
  PermissionFlagsBits.CreateInstantInvite |
  PermissionFlagsBits.AddReactions |
  PermissionFlagsBits.ViewChannel |
  PermissionFlagsBits.SendMessages |
  PermissionFlagsBits.EmbedLinks |
  PermissionFlagsBits.AttachFiles |
  PermissionFlagsBits.ReadMessageHistory |
  PermissionFlagsBits.UseExternalEmojis |
  PermissionFlagsBits.Connect |
  PermissionFlagsBits.Speak |
  PermissionFlagsBits.ChangeNickname |
  PermissionFlagsBits.UseApplicationCommands |
  PermissionFlagsBits.SendMessagesInThreads;

const CREATE_FLAGS =
  MessageFlags.SuppressEmbeds | MessageFlags.Ephemeral | MessageFlags.SuppressNotifications | MessageFlags.IsComponentsV2;
const EDITABLE_FLAGS = MessageFlags.SuppressEmbeds | MessageFlags.IsComponentsV2;

function sanitizeFilename(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200);
  return cleaned === '' ? 'unknown' : cleaned;
}

const CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  txt: 'text/plain; charset=utf-8',
  json: 'application/json',
};

function guessContentType(filename: string, declared?: string): string {
  if (declared && declared !== 'application/octet-stream') return declared;
  const extension = filename.split('.').pop()?.toLowerCase() ?? '';
  return CONTENT_TYPES[extension] ?? declared ?? 'application/octet-stream';
}

function sniffImageType(bytes: Buffer): string | undefined {
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 6 && bytes.toString('latin1', 0, 4) === 'GIF8') return 'image/gif';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

function imageSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(12) === 0x49484452) {
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length >= 10 && bytes.toString('latin1', 0, 4) === 'GIF8') {
    return { width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8) };
  }
  return undefined;
}

function apiError(status: number, code: number, message: string, errors?: JsonObject): Reply {
  return { status, body: errors ? { message, code, errors } : { message, code } };
}

function invalidForm(field: string, errorCode: string, message: string): Reply {
  return apiError(400, 50035, 'Invalid Form Body', { [field]: { _errors: [{ code: errorCode, message }] } });
}

function rawDataToString(raw: RawData): string {
  if (Buffer.isBuffer(raw)) return raw.toString('utf8');
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return Buffer.from(raw).toString('utf8');
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

interface MultipartPart {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
  data: Buffer;
}

/** Binary-safe multipart/form-data parser; undefined when the body is malformed. */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] | undefined {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);
  const parts: MultipartPart[] = [];
  let position = body.indexOf(delimiter);
  if (position < 0) return undefined;
  for (;;) {
    position += delimiter.length;
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts; // closing "--"
    if (body[position] !== 0x0d || body[position + 1] !== 0x0a) return undefined;
    position += 2;
    const headerEnd = body.indexOf('\r\n\r\n', position);
    if (headerEnd < 0) return undefined;
    const next = body.indexOf(nextDelimiter, headerEnd + 4);
    if (next < 0) return undefined;
    const headers = new Map<string, string>();
    for (const line of body.subarray(position, headerEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition') ?? '';
    const parameters = new Map<string, string>();
    for (const parameter of disposition.matchAll(/;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g)) {
      const key = parameter[1];
      if (key) parameters.set(key.toLowerCase(), parameter[2] ?? parameter[3]?.trim() ?? '');
    }
    const name = parameters.get('name');
    if (name === undefined) return undefined;
    let filename = parameters.get('filename');
    const extended = parameters.get('filename*');
    if (extended?.toLowerCase().startsWith("utf-8''")) {
      try {
        filename = decodeURIComponent(extended.slice(7));
      } catch {
        // keep the plain filename
      }
    }
    parts.push({
      name,
      filename,
      contentType: headers.get('content-type'),
      data: Buffer.from(body.subarray(headerEnd + 4, next)),
    });
    position = next + 2;
  }
}

/** Every component carrying a custom_id in a message (rows, labels, sections and containers included). */
export function componentsOf(message: Message | JsonObject): JsonObject[] {
  const found: JsonObject[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    if (!isObject(node)) return;
    if (typeof node.custom_id === 'string') found.push(node);
    visit(node.components);
    visit(node.component);
    visit(node.accessory);
  };
  visit((message as JsonObject).components);
  return found;
}

interface PendingWait {
  poll(): void;
  fail(error: Error): void;
}

/**
 * Promises that re-check a condition on every state change of the server, and every few
 * milliseconds for conditions on state the server does not see (e.g. a test's own variables).
 */
class Waiters {
  private readonly pending = new Set<PendingWait>();
  private poller: NodeJS.Timeout | undefined;
  private closedWith: Error | undefined;

  wait<T>(check: () => T | undefined | false, timeoutMs: number, describe: () => string): Promise<T> {
    let first: T | undefined | false;
    try {
      first = check();
    } catch (error) {
      return Promise.reject(error);
    }
    if (first !== undefined && first !== false) return Promise.resolve(first);
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (timer) clearTimeout(timer);
        this.pending.delete(entry);
        if (this.pending.size === 0 && this.poller) {
          clearInterval(this.poller);
          this.poller = undefined;
        }
      };
      const entry: PendingWait = {
        poll: () => {
          let value: T | undefined | false;
          try {
            value = check();
          } catch (error) {
            finish();
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          if (value !== undefined && value !== false) {
            finish();
            resolve(value);
          }
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          finish();
          reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${describe()}`));
        }, timeoutMs);
      }
      this.pending.add(entry);
      this.poller ??= setInterval(() => this.notify(), 20);
    });
  }

  notify(): void {
    for (const entry of [...this.pending]) entry.poll();
  }

  close(error: Error): void {
    this.closedWith = error;
    for (const entry of [...this.pending]) entry.fail(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Internal state
// ---------------------------------------------------------------------------------------------

interface RoleState {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
  botId?: string;
}

interface MemberState {
  userId: string;
  roles: string[];
  joinedAt: string;
  nick: string | null;
}

interface ChannelState {
  id: string;
  guildId: string | null;
  name: string;
  type: number;
  position: number;
  recipientId?: string;
  lastMessageId: string | null;
  overwrites?: PermissionOverwriteInput[];
}

interface GuildState {
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

interface StoredMessage {
  wire: JsonObject;
  files: Map<string, StoredFile>;
  channelId: string;
  deleted: boolean;
}

interface InteractionState {
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

interface CdnFile {
  kind: 'file';
  bytes: Buffer;
  contentType: string;
  chunkSize?: number;
  intervalMs?: number;
  contentLength: boolean;
  status: number;
}

interface CdnRedirect {
  kind: 'redirect';
  location: string;
  status: number;
}

interface GatewaySession {
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

interface GatewayConnection {
  ws: WebSocket;
  session: GatewaySession | undefined;
}

interface RequestContext {
  call: MutableCall;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  files: UploadedFile[];
}

type Handler = (context: RequestContext) => Reply | Promise<Reply>;

interface Route {
  method: string;
  segments: string[];
  name: string;
  auth: boolean;
  handler: Handler;
}

type MutableCall = { -readonly [K in keyof RecordedCall]: RecordedCall[K] };

interface CommandContext {
  user: TestUser;
  guild: GuildState | undefined;
  channel: ChannelState;
}

const REPLAY_BUFFER_LIMIT = 500;

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

class LocalDiscord implements DiscordServer {
  url = '';
  apiUrl = '';
  cdnUrl = '';
  gatewayUrl = '';
  readonly applicationId: string;
  readonly botToken: string;
  readonly botUser: TestUser;
  readonly oauth2: DiscordOAuth2;
  guild!: TestGuild;

  private readonly http = createServer((request, response) => void this.onRequest(request, response));
  private readonly wss = new WebSocketServer({ server: this.http });
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters = new Waiters();
  private readonly log: (line: string) => void;
  private readonly heartbeatIntervalMs: number;
  private readonly interactionTimeoutMs: number;
  private readonly timeoutMs: number;
  private readonly shardCount: number;
  private readonly botPermissions: bigint;
  private readonly attachmentSizeLimit: number;
  private readonly ownerUser: TestUser;

  private readonly callLog: MutableCall[] = [];
  private readonly users = new Map<string, TestUser>();
  private readonly avatars = new Map<string, { bytes: Buffer; contentType: string }>();
  private readonly guilds = new Map<string, GuildState>();
  private readonly dmChannels = new Map<string, ChannelState>();
  private readonly dmsClosed = new Set<string>();
  private readonly commandScopes = new Map<string, JsonObject[]>();
  private readonly storedMessages = new Map<string, StoredMessage>();
  private readonly posted: PostedMessage[] = [];
  private readonly cdn = new Map<string, CdnFile | CdnRedirect>();
  private readonly downloadLog: Download[] = [];
  private readonly interactionStates = new Map<string, InteractionState>();
  private readonly interactionsByToken = new Map<string, InteractionState>();
  private readonly handles: InteractionHandle[] = [];
  private readonly gatewaySessions: GatewaySession[] = [];
  private readonly interceptors = new Set<Interceptor>();
  private readonly routes: Route[] = [];
  private roundRobin = 0;
  private servedCounter = 0;
  private userCounter = 0;
  private closed = false;

  constructor(options: DiscordServerOptions) {
    this.applicationId = options.applicationId ?? snowflake();
    this.botToken = options.botToken ?? `${Buffer.from(this.applicationId).toString('base64url')}.test.${randomBytes(16).toString('base64url')}`;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
    this.interactionTimeoutMs = options.interactionTimeoutMs ?? 3000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.shardCount = Math.max(1, options.shards ?? 1);
    this.botPermissions = options.botPermissions ?? 0n;
    this.attachmentSizeLimit = options.attachmentSizeLimit ?? DEFAULT_ATTACHMENT_SIZE_LIMIT;
    this.log = options.log ?? (() => undefined);
    this.botUser = this.addUserInternal({
      id: this.applicationId,
      username: options.botUsername ?? 'avatar-bot',
      bot: true,
    });
    this.ownerUser = this.addUserInternal({ username: 'guild-owner' });
    this.oauth2 = new DiscordOAuth2(this.applicationId, (id) => this.users.has(id));
    this.http.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.wss.on('connection', (ws) => this.onGatewayConnection(ws));
    this.wss.on('error', (error) => this.log(`gateway error: ${error.message}`));
    this.http.on('clientError', (_error, socket) => socket.destroy());
    this.defineRoutes();
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const { port } = this.http.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.apiUrl = `${this.url}/api`;
    this.cdnUrl = this.url;
    this.gatewayUrl = `ws://127.0.0.1:${port}`;
    this.guild = this.addGuild({ name: 'Test Guild' });
  }

  // --- public getters ------------------------------------------------------------------------

  get calls(): readonly RecordedCall[] {
    return this.callLog;
  }

  get unexpectedCalls(): readonly RecordedCall[] {
    return this.callLog.filter((call) => call.unexpected);
  }

  get commands(): readonly RegisteredCommand[] {
    return [...this.commandScopes.values()].flat() as unknown as RegisteredCommand[];
  }

  get messages(): readonly PostedMessage[] {
    return this.posted;
  }

  get downloads(): readonly Download[] {
    return this.downloadLog;
  }

  get interactions(): readonly Interaction[] {
    return this.handles;
  }

  get sessions(): readonly GatewaySessionInfo[] {
    return this.gatewaySessions.map((session) => ({
      sessionId: session.id,
      index: session.index,
      shard: session.shard,
      intents: session.intents,
      connected: session.ws?.readyState === WebSocket.OPEN,
      ready: session.ready,
      resumes: session.resumes,
    }));
  }

  // --- world building ------------------------------------------------------------------------

  addUser(input: { id?: string; username?: string; globalName?: string | null; avatar?: Buffer } = {}): TestUser {
    return this.addUserInternal(input);
  }

  private addUserInternal(input: {
    id?: string;
    username?: string;
    globalName?: string | null;
    avatar?: Buffer;
    bot?: boolean;
  }): TestUser {
    const existing = input.id ? this.users.get(input.id) : undefined;
    if (existing) return existing;
    this.userCounter += 1;
    const id = input.id ?? snowflake();
    let avatar: string | null = null;
    if (input.avatar) {
      avatar = randomBytes(16).toString('hex');
      this.avatars.set(id, { bytes: input.avatar, contentType: sniffImageType(input.avatar) ?? 'image/png' });
    }
    const username = input.username ?? `user${this.userCounter}`;
    const user: TestUser = {
      id,
      username,
      globalName: input.globalName === undefined ? (input.bot ? null : username) : input.globalName,
      avatar,
      bot: input.bot ?? false,
    };
    this.users.set(id, user);
    return user;
  }

  addMember(input: MemberInput = {}): TestUser {
    const guild = this.requireGuild(input.guildId ?? this.guild.id);
    const user = this.addUserInternal({
      ...(input.id === undefined ? {} : { id: input.id }),
      ...(input.username === undefined ? {} : { username: input.username }),
      ...(input.globalName === undefined ? {} : { globalName: input.globalName }),
      ...(input.avatar === undefined ? {} : { avatar: input.avatar }),
    });
    const roles = [...(input.roles ?? [])];
    for (const roleId of roles) {
      if (!guild.roles.has(roleId)) throw new Error(`Unknown role ${roleId} in guild ${guild.id}`);
    }
    if (input.permissions !== undefined) {
      const bits = BigInt(input.permissions);
      const name = `perms-${bits}`;
      const role =
        [...guild.roles.values()].find((candidate) => candidate.name === name) ??
        this.createRole(guild, { name, permissions: bits });
      if (!roles.includes(role.id)) roles.push(role.id);
    }
    const member: MemberState = {
      userId: user.id,
      roles,
      joinedAt: new Date().toISOString(),
      nick: input.nick ?? null,
    };
    guild.members.set(user.id, member);
    this.broadcastToGuild(guild, 'GUILD_MEMBER_ADD', { ...this.memberWire(guild, member), guild_id: guild.id }, GatewayIntentBits.GuildMembers);
    this.waiters.notify();
    return user;
  }

  addRole(input: { name?: string; permissions?: bigint | string; guildId?: string } = {}): TestRole {
    const guild = this.requireGuild(input.guildId ?? this.guild.id);
    const role = this.createRole(guild, {
      name: input.name ?? `role-${guild.roles.size}`,
      permissions: BigInt(input.permissions ?? 0n),
    });
    return { id: role.id, guildId: guild.id, name: role.name, permissions: role.permissions.toString() };
  }

  private createRole(guild: GuildState, input: { name: string; permissions: bigint; botId?: string }): RoleState {
    const role: RoleState = {
      id: snowflake(),
      name: input.name,
      permissions: input.permissions,
      position: guild.roles.size,
      ...(input.botId === undefined ? {} : { botId: input.botId }),
    };
    guild.roles.set(role.id, role);
    this.broadcastToGuild(guild, 'GUILD_ROLE_CREATE', { guild_id: guild.id, role: this.roleWire(role) });
    return role;
  }

  addGuild(input: { name?: string; ownerId?: string; withBot?: boolean; preferredLocale?: string } = {}): TestGuild {
    const id = snowflake();
    const ownerId = input.ownerId ?? this.ownerUser.id;
    const channel: ChannelState = {
      id: snowflake(),
      guildId: id,
      name: 'general',
      type: ChannelType.GuildText,
      position: 0,
      lastMessageId: null,
    };
    const guild: GuildState = {
      id,
      name: input.name ?? `Guild ${this.guilds.size + 1}`,
      ownerId,
      defaultChannelId: channel.id,
      channels: new Map([[channel.id, channel]]),
      roles: new Map([[id, { id, name: '@everyone', permissions: EVERYONE_PERMISSIONS, position: 0 }]]),
      members: new Map(),
      preferredLocale: input.preferredLocale ?? 'en-US',
    };
    this.guilds.set(id, guild);
    const joinedAt = new Date().toISOString();
    guild.members.set(ownerId, { userId: ownerId, roles: [], joinedAt, nick: null });
    if (input.withBot === false) return { id, name: guild.name, ownerId, channelId: channel.id };
    // The bot's managed role, as Discord creates one for a bot invited with permissions.
    const botRole: RoleState = {
      id: snowflake(),
      name: this.botUser.username,
      permissions: this.botPermissions,
      position: 1,
      botId: this.botUser.id,
    };
    guild.roles.set(botRole.id, botRole);
    guild.members.set(this.botUser.id, { userId: this.botUser.id, roles: [botRole.id], joinedAt, nick: null });
    for (const session of this.gatewaySessions) {
      if (session.ready && this.sessionOwnsGuild(session, id)) {
        void this.dispatch(session, 'GUILD_CREATE', this.guildCreateWire(guild, session));
      }
    }
    return { id, name: guild.name, ownerId, channelId: channel.id };
  }

  addChannel(input: { guildId?: string; name?: string; type?: number } = {}): TestChannel {
    const guild = this.requireGuild(input.guildId ?? this.guild.id);
    const channel: ChannelState = {
      id: snowflake(),
      guildId: guild.id,
      name: input.name ?? `channel-${guild.channels.size}`,
      type: input.type ?? ChannelType.GuildText,
      position: guild.channels.size,
      lastMessageId: null,
    };
    guild.channels.set(channel.id, channel);
    this.broadcastToGuild(guild, 'CHANNEL_CREATE', this.channelWire(channel));
    return { id: channel.id, guildId: guild.id, name: channel.name, type: channel.type };
  }

  setChannelOverwrites(channelId: string, overwrites: PermissionOverwriteInput[]): void {
    const channel = this.channelById(channelId);
    if (!channel?.guildId) throw new Error(`Unknown guild channel ${channelId}`);
    channel.overwrites = overwrites.map((overwrite) => ({ ...overwrite }));
    this.broadcastToGuild(this.requireGuild(channel.guildId), 'CHANNEL_UPDATE', this.channelWire(channel));
    this.waiters.notify();
  }

  removeMember(userId: string, guildId = this.guild.id): void {
    const guild = this.requireGuild(guildId);
    if (!guild.members.delete(userId)) throw new Error(`${userId} is not a member of guild ${guildId}`);
    const user = this.users.get(userId);
    this.broadcastToGuild(guild, 'GUILD_MEMBER_REMOVE', { guild_id: guild.id, user: user ? this.userWire(user) : { id: userId } }, GatewayIntentBits.GuildMembers);
    this.waiters.notify();
  }

  permissionsIn(channelId: string, userId: string): bigint {
    const channel = this.channelById(channelId);
    if (!channel) throw new Error(`Unknown channel ${channelId}`);
    return this.channelPermissions(channel, userId);
  }

  setDmsClosed(userId: string, closed = true): void {
    if (closed) this.dmsClosed.add(userId);
    else this.dmsClosed.delete(userId);
  }

  intercept(interceptor: Interceptor): () => void {
    this.interceptors.add(interceptor);
    return () => this.interceptors.delete(interceptor);
  }

  serveFile(
    name: string,
    bytes: Buffer,
    options: { contentType?: string; chunkSize?: number; intervalMs?: number; contentLength?: boolean; status?: number } = {},
  ): string {
    this.servedCounter += 1;
    const filename = sanitizeFilename(name);
    const path = `/files/${this.servedCounter}/${filename}`;
    this.cdn.set(path, {
      kind: 'file',
      bytes,
      contentType: guessContentType(filename, options.contentType),
      ...(options.chunkSize === undefined ? {} : { chunkSize: Math.max(1, options.chunkSize) }),
      ...(options.intervalMs === undefined ? {} : { intervalMs: Math.max(0, options.intervalMs) }),
      contentLength: options.contentLength ?? true,
      status: options.status ?? 200,
    });
    return `${this.url}${path}`;
  }

  serveRedirect(location: string, status = 302): string {
    this.servedCounter += 1;
    const path = `/redirect/${this.servedCounter}`;
    this.cdn.set(path, { kind: 'redirect', location, status });
    return `${this.url}${path}`;
  }

  // --- waiting ---------------------------------------------------------------------------------

  waitFor<T>(
    check: () => T | undefined | false,
    timeoutMs = this.timeoutMs,
    description: string | (() => string) = 'a condition',
  ): Promise<T> {
    const describe = (): string => (typeof description === 'string' ? description : description());
    return this.waiters.wait(check, timeoutMs, () => `${describe()}\n${this.recentCallsSummary()}`);
  }

  private recentCallsSummary(): string {
    const recent = this.callLog.slice(-15).map((call) => `  ${call.method} ${call.path} -> ${call.status}`);
    return recent.length > 0 ? `Last REST calls:\n${recent.join('\n')}` : 'No REST calls were made.';
  }

  async waitForBot(options: { sessions?: number; timeoutMs?: number } = {}): Promise<void> {
    const wanted = options.sessions ?? 1;
    await this.waitFor(
      () => this.gatewaySessions.filter((session) => session.ready && session.ws?.readyState === WebSocket.OPEN).length >= wanted,
      options.timeoutMs ?? this.timeoutMs,
      `${wanted} ready gateway session(s) (have ${this.gatewaySessions.filter((session) => session.ready).length})`,
    );
  }

  waitForMessage(predicate: (posted: PostedMessage) => boolean, timeoutMs = this.timeoutMs): Promise<PostedMessage> {
    return this.waitFor(() => this.posted.find(predicate), timeoutMs, 'a channel message matching the predicate');
  }

  waitForDm(userId: string, predicate: (message: Message) => boolean = () => true, timeoutMs = this.timeoutMs): Promise<PostedMessage> {
    return this.waitFor(
      () => this.posted.find((posted) => posted.recipientId === userId && predicate(posted.message)),
      timeoutMs,
      `a DM to ${userId}`,
    );
  }

  waitForCall(predicate: (call: RecordedCall) => boolean, timeoutMs = this.timeoutMs): Promise<RecordedCall> {
    return this.waitFor(() => this.callLog.find((call) => call.status !== 0 && predicate(call)), timeoutMs, 'a REST call');
  }

  message(id: string): Message | undefined {
    const stored = this.storedMessages.get(id);
    return stored && !stored.deleted ? (stored.wire as unknown as Message) : undefined;
  }

  filesOf(message: Message | string): StoredFile[] {
    const id = typeof message === 'string' ? message : message.id;
    const stored = this.storedMessages.get(id);
    if (!stored) return [];
    const attachments = asArray(stored.wire.attachments) ?? [];
    return attachments.flatMap((attachment) => {
      const file = stored.files.get(asString(asObject(attachment)?.id) ?? '');
      return file ? [file] : [];
    });
  }

  // --- interactions ----------------------------------------------------------------------------

  async slash(user: TestUser, command: CommandInput, options: DispatchOptions = {}): Promise<Interaction> {
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

  click(message: Message | string, customId: string, options: ComponentOptions = {}): Promise<Interaction> {
    return this.componentInteraction({ ...options, message }, customId, undefined, undefined);
  }

  select(message: Message | string, customId: string, values: string[], options: ComponentOptions = {}): Promise<Interaction> {
    return this.componentInteraction({ ...options, message }, customId, values, undefined);
  }

  /** @internal Used by InteractionHandle and the public click/select. */
  async componentInteraction(
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

  private checkSelectValues(component: JsonObject, values: string[]): void {
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

  private resolveSelectValues(type: number, values: string[], context: CommandContext): JsonObject | undefined {
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
  async submitModalFor(parent: InteractionState, customId: string | undefined, fields: Record<string, ModalFieldValue>, user: TestUser | undefined): Promise<Interaction> {
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

  private commandContext(user: TestUser, options: DispatchOptions): CommandContext {
    if (options.channelId !== undefined) {
      const channel = this.channelById(options.channelId);
      if (!channel) throw new Error(`Unknown channel ${options.channelId}`);
      const guild = channel.guildId ? this.requireGuild(channel.guildId) : undefined;
      if (guild && !guild.members.has(user.id)) throw new Error(`${user.username} is not a member of guild ${guild.id}; use addMember`);
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
  private refuseUnoffered(name: string, context: CommandContext, options: DispatchOptions): void {
    const install = options.userInstall === true ? ApplicationIntegrationType.UserInstall : ApplicationIntegrationType.GuildInstall;
    if (install === ApplicationIntegrationType.GuildInstall && context.guild && !guildMember(context.guild, this.botUser.id)) {
      throw new Error(`The bot is not in guild ${context.guild.id}: Discord offers /${name} there only through a user install (userInstall: true)`);
    }
    const definition = this.findCommand(name, context.guild?.id);
    if (!definition || definition.guild_id !== undefined) return; // a guild command: that server's own install
    const where = interactionContextOf(context);
    const integrationTypes = asArray(definition.integration_types) ?? [ApplicationIntegrationType.GuildInstall];
    const contexts = asArray(definition.contexts) ?? (definition.dm_permission === false ? [InteractionContextType.Guild] : INTERACTION_CONTEXTS);
    if (!integrationTypes.includes(install)) {
      throw new Error(`Discord does not offer /${name} to a ${install === ApplicationIntegrationType.UserInstall ? 'user' : 'guild'} install: its integration_types are ${JSON.stringify(integrationTypes)}`);
    }
    if (!contexts.includes(where)) {
      throw new Error(`Discord does not offer /${name} in ${InteractionContextType[where]} (context ${where}): its contexts are ${JSON.stringify(contexts)}`);
    }
  }

  private findCommand(name: string, guildId: string | undefined): JsonObject | undefined {
    const scopes = guildId ? [guildId, 'global'] : ['global'];
    for (const scope of scopes) {
      const found = this.commandScopes
        .get(scope)
        ?.find((command) => command.name === name && (command.type ?? ApplicationCommandType.ChatInput) === ApplicationCommandType.ChatInput);
      if (found) return found;
    }
    return undefined;
  }

  private commandData(
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

  private optionWireValue(
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

  private addResolvedUser(resolved: Record<string, JsonObject>, user: TestUser, guild: GuildState | undefined): void {
    (resolved.users ??= {})[user.id] = this.userWire(user);
    const member = guild?.members.get(user.id);
    if (guild && member) {
      // Resolved members come without their user (it is in resolved.users).
      const wire = this.memberWire(guild, member);
      delete wire.user;
      (resolved.members ??= {})[user.id] = { ...wire, permissions: this.permissionsOf(guild, user.id).toString() };
    }
  }

  private attachmentFromInput(input: AttachmentInput, channelId: string): JsonObject {
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

  private async dispatchInteraction(input: {
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
    const userInstall = input.options.userInstall === true;
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
      app_permissions: (context.guild && guildMember(context.guild, this.botUser.id) ? this.channelPermissions(context.channel, this.botUser.id) : userInstall ? 0n : EVERYONE_PERMISSIONS).toString(),
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

  private async pickSession(guildId: string | undefined, sessionId: string | undefined): Promise<GatewaySession> {
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

  private sessionOwnsGuild(session: GatewaySession, guildId: string): boolean {
    const [shardId, shardCount] = session.shard;
    return Number((BigInt(guildId) >> 22n) % BigInt(shardCount)) === shardId;
  }

  // --- wire objects --------------------------------------------------------------------------

  private userWire(user: TestUser): JsonObject {
    return {
      id: user.id,
      username: user.username,
      global_name: user.globalName,
      discriminator: '0',
      avatar: user.avatar,
      public_flags: 0,
      flags: 0,
      banner: null,
      accent_color: null,
      avatar_decoration_data: null,
      ...(user.bot ? { bot: true } : {}),
    };
  }

  private memberWire(guild: GuildState, member: MemberState): JsonObject {
    const user = this.users.get(member.userId);
    return {
      user: user ? this.userWire(user) : { id: member.userId, username: 'unknown', discriminator: '0', avatar: null, global_name: null },
      nick: member.nick,
      avatar: null,
      banner: null,
      roles: member.roles.filter((roleId) => roleId !== guild.id && guild.roles.has(roleId)),
      joined_at: member.joinedAt,
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
    };
  }

  private roleWire(role: RoleState): JsonObject {
    return {
      id: role.id,
      name: role.name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: role.position,
      permissions: role.permissions.toString(),
      managed: role.botId !== undefined,
      mentionable: false,
      flags: 0,
      ...(role.botId === undefined ? {} : { tags: { bot_id: role.botId } }),
    };
  }

  private channelWire(channel: ChannelState): JsonObject {
    if (channel.guildId === null) {
      const recipient = channel.recipientId ? this.users.get(channel.recipientId) : undefined;
      return {
        id: channel.id,
        type: ChannelType.DM,
        last_message_id: channel.lastMessageId,
        flags: 0,
        recipients: recipient ? [this.userWire(recipient)] : [],
      };
    }
    return {
      id: channel.id,
      type: channel.type,
      guild_id: channel.guildId,
      name: channel.name,
      position: channel.position,
      permission_overwrites: (channel.overwrites ?? []).map((overwrite) => ({
        id: overwrite.id,
        type: overwrite.type,
        allow: (overwrite.allow ?? 0n).toString(),
        deny: (overwrite.deny ?? 0n).toString(),
      })),
      parent_id: null,
      nsfw: false,
      topic: null,
      last_message_id: channel.lastMessageId,
      rate_limit_per_user: 0,
      flags: 0,
    };
  }

  /** A resolved channel carries the invoking member's permissions in that channel, as Discord sends them. */
  private resolvedChannelWire(channel: ChannelState, context: CommandContext): JsonObject {
    const permissions = context.guild ? this.channelPermissions(channel, context.user.id) : EVERYONE_PERMISSIONS;
    return { ...this.channelWire(channel), permissions: permissions.toString() };
  }

  private guildWire(guild: GuildState): JsonObject {
    return {
      id: guild.id,
      name: guild.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: guild.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      widget_enabled: false,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
      premium_tier: 0,
      premium_subscription_count: 0,
      premium_progress_bar_enabled: false,
      application_id: null,
      system_channel_id: guild.defaultChannelId,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      max_members: 500_000,
      max_video_channel_users: 25,
      vanity_url_code: null,
      preferred_locale: guild.preferredLocale,
      features: [],
      roles: [...guild.roles.values()].map((role) => this.roleWire(role)),
      emojis: [],
      stickers: [],
    };
  }

  /**
   * GUILD_CREATE as Discord sends it to a bot: the whole guild plus channels and roles. Members:
   * all of them with the GUILD_MEMBERS intent, otherwise only the bot's own member.
   */
  private guildCreateWire(guild: GuildState, session: GatewaySession): JsonObject {
    const allMembers = (session.intents & GatewayIntentBits.GuildMembers) !== 0;
    const members = [...guild.members.values()].filter((member) => allMembers || member.userId === this.botUser.id);
    return {
      ...this.guildWire(guild),
      joined_at: guild.members.get(this.botUser.id)?.joinedAt ?? new Date().toISOString(),
      large: false,
      unavailable: false,
      member_count: guild.members.size,
      voice_states: [],
      members: members.map((member) => this.memberWire(guild, member)),
      channels: [...guild.channels.values()].map((channel) => this.channelWire(channel)),
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  private permissionsOf(guild: GuildState, userId: string): bigint {
    if (guild.ownerId === userId) return ALL_PERMISSIONS;
    let permissions = guild.roles.get(guild.id)?.permissions ?? 0n;
    for (const roleId of guild.members.get(userId)?.roles ?? []) permissions |= guild.roles.get(roleId)?.permissions ?? 0n;
    return permissions & PermissionFlagsBits.Administrator ? ALL_PERMISSIONS : permissions;
  }

  /**
   * Discord's order: the guild-level permissions; Administrator (or owning the guild) is everything;
   * then the channel's @everyone overwrite, the member's roles' overwrites (denies, then allows,
   * combined), then the member's own overwrite. Not a member: nothing. A DM: @everyone's defaults.
   */
  private channelPermissions(channel: ChannelState, userId: string): bigint {
    if (channel.guildId === null) return EVERYONE_PERMISSIONS;
    const guild = this.requireGuild(channel.guildId);
    const member = guild.members.get(userId);
    if (!member) return 0n;
    let permissions = this.permissionsOf(guild, userId);
    if (permissions === ALL_PERMISSIONS) return permissions;
    const overwrites = channel.overwrites ?? [];
    const everyone = overwrites.find((overwrite) => overwrite.type === 0 && overwrite.id === guild.id);
    if (everyone) permissions = (permissions & ~(everyone.deny ?? 0n)) | (everyone.allow ?? 0n);
    let allow = 0n;
    let deny = 0n;
    for (const overwrite of overwrites) {
      if (overwrite.type !== 0 || overwrite.id === guild.id || !member.roles.includes(overwrite.id)) continue;
      allow |= overwrite.allow ?? 0n;
      deny |= overwrite.deny ?? 0n;
    }
    permissions = (permissions & ~deny) | allow;
    const own = overwrites.find((overwrite) => overwrite.type === 1 && overwrite.id === userId);
    if (own) permissions = (permissions & ~(own.deny ?? 0n)) | (own.allow ?? 0n);
    // Without View Channel nothing else in the channel applies.
    return permissions & PermissionFlagsBits.ViewChannel ? permissions : 0n;
  }

  private requireGuild(id: string): GuildState {
    const guild = this.guilds.get(id);
    if (!guild) throw new Error(`Unknown guild ${id}`);
    return guild;
  }

  private channelById(id: string): ChannelState | undefined {
    for (const guild of this.guilds.values()) {
      const channel = guild.channels.get(id);
      if (channel) return channel;
    }
    for (const channel of this.dmChannels.values()) if (channel.id === id) return channel;
    return undefined;
  }

  private dmChannelFor(userId: string): ChannelState {
    let channel = this.dmChannels.get(userId);
    if (!channel) {
      channel = { id: snowflake(), guildId: null, name: '', type: ChannelType.DM, position: 0, recipientId: userId, lastMessageId: null };
      this.dmChannels.set(userId, channel);
    }
    return channel;
  }

  // --- messages --------------------------------------------------------------------------------

  /** Builds a new message (or the next revision of `base`) from a create/edit body; a Reply on invalid input. */
  private composeMessage(input: {
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

  private composeAttachments(
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

  private mentionedUsers(content: string): JsonObject[] {
    const ids = new Set([...content.matchAll(/<@!?(\d+)>/g)].map((match) => match[1] ?? ''));
    return [...ids].flatMap((id) => {
      const user = this.users.get(id);
      return user ? [this.userWire(user)] : [];
    });
  }

  private storeMessage(message: StoredMessage): void {
    this.storedMessages.set(String(message.wire.id), message);
    const channel = this.channelById(message.channelId);
    if (channel && !((asNumber(message.wire.flags) ?? 0) & MessageFlags.Ephemeral)) channel.lastMessageId = String(message.wire.id);
  }

  // --- HTTP ------------------------------------------------------------------------------------

  private async onRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const receivedAt = performance.now();
    try {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
        await this.onApiRequest(request, response, url, receivedAt);
      } else if (url.pathname === '/oauth2/authorize' && request.method === 'GET') {
        const reply = this.oauth2.authorize(url.searchParams, request.headers.cookie);
        response.writeHead(reply.status, reply.headers ?? {});
        response.end(typeof reply.body === 'string' ? reply.body : '');
      } else {
        this.onCdnRequest(request, response, url, receivedAt);
      }
    } catch (error) {
      this.log(`request failed: ${error instanceof Error ? error.stack : String(error)}`);
      if (!response.headersSent) {
        sendReply(response, { status: 500, body: { message: '500: Internal Server Error', code: 0 } });
      } else {
        response.destroy();
      }
    }
  }

  private async onApiRequest(request: IncomingMessage, response: ServerResponse, url: URL, receivedAt: number): Promise<void> {
    const method = (request.method ?? 'GET').toUpperCase();
    let segments: string[] | undefined;
    try {
      segments = url.pathname.split('/').filter((segment) => segment !== '').map((segment) => decodeURIComponent(segment));
    } catch {
      segments = undefined;
    }
    const call: MutableCall = {
      method,
      path: segments ? `/${segments.join('/')}` : url.pathname,
      route: 'unknown',
      query: Object.fromEntries(url.searchParams),
      headers: request.headers,
      body: undefined,
      files: [],
      receivedAt,
      status: 0,
      response: undefined,
      unexpected: false,
    };
    this.callLog.push(call);
    const raw = await readBody(request, MAX_BODY_BYTES);
    const reply = await this.handleApi(call, raw, segments, url.searchParams, request.headers['content-type'] ?? '');
    call.status = reply.status;
    call.response = reply.body;
    this.log(`${method} ${call.path} -> ${reply.status}`);
    sendReply(response, reply);
    this.waiters.notify();
  }

  private async handleApi(
    call: MutableCall,
    raw: Buffer | 'too-large',
    segments: string[] | undefined,
    query: URLSearchParams,
    contentType: string,
  ): Promise<Reply> {
    if (raw === 'too-large') return apiError(413, 40005, 'Request entity too large');
    let body: unknown;
    const files: UploadedFile[] = [];
    if (contentType.toLowerCase().startsWith('multipart/form-data')) {
      const parts = parseMultipart(raw, contentType);
      if (!parts) return apiError(400, 50035, 'Invalid Form Body');
      for (const part of parts) {
        if (part.name === 'payload_json') {
          try {
            body = JSON.parse(part.data.toString('utf8'));
          } catch {
            return apiError(400, 50109, 'The request body contains invalid JSON.');
          }
        } else if (part.filename !== undefined) {
          files.push({
            field: part.name,
            name: part.filename,
            bytes: part.data,
            contentType: part.contentType ?? 'application/octet-stream',
          });
        }
      }
    } else if (contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      body = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
    } else if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return apiError(400, 50109, 'The request body contains invalid JSON.');
      }
    }
    call.body = body;
    call.files = files;

    const [api, version, ...rest] = segments ?? [];
    // OAuth2's token endpoint is served without a version too (https://discord.com/api/oauth2/token).
    const match = api !== 'api' ? undefined : version === 'v10' ? this.matchRoute(call.method, rest) : version === 'oauth2' ? this.matchRoute(call.method, [version, ...rest]) : undefined;
    if (!match) {
      call.unexpected = true;
      for (const interceptor of this.interceptors) {
        const intercepted = interceptor(call);
        if (intercepted) return intercepted;
      }
      return apiError(404, 0, '404: Not Found');
    }
    call.route = match.route.name;
    for (const interceptor of this.interceptors) {
      const intercepted = interceptor(call);
      if (intercepted) return intercepted;
    }
    if (match.route.auth && call.headers.authorization !== `Bot ${this.botToken}`) {
      return apiError(401, 0, '401: Unauthorized');
    }
    return match.route.handler({ call, params: match.params, query, body, files });
  }

  private matchRoute(method: string, segments: string[]): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method || route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let matched = true;
      route.segments.forEach((pattern, index) => {
        const actual = segments[index] ?? '';
        if (pattern.startsWith(':')) params[pattern.slice(1)] = actual;
        else if (pattern !== actual) matched = false;
      });
      if (matched) return { route, params };
    }
    return undefined;
  }

  private route(method: string, path: string, handler: Handler, options: { auth?: boolean } = {}): void {
    this.routes.push({
      method,
      segments: path.split('/').filter((segment) => segment !== ''),
      name: `${method} ${path}`,
      auth: options.auth ?? true,
      handler,
    });
  }

  private defineRoutes(): void {
    const gateway = (): Reply => ({ status: 200, body: { url: this.gatewayUrl } });
    this.route('GET', '/gateway', gateway, { auth: false });
    this.route('GET', '/gateway/bot', () => ({
      status: 200,
      body: {
        url: this.gatewayUrl,
        shards: this.shardCount,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 86_400_000, max_concurrency: 1 },
      },
    }));
    // The bot's own user with the bot token; with an OAuth2 Bearer token, the user who authorised it.
    this.route(
      'GET',
      '/users/@me',
      ({ call }) => {
        if (call.headers.authorization === `Bot ${this.botToken}`) {
          return { status: 200, body: { ...this.userWire(this.botUser), verified: true, mfa_enabled: false, locale: 'en-US' } };
        }
        const userId = this.oauth2.bearerUser(call.headers.authorization);
        const user = userId ? this.users.get(userId) : undefined;
        return user ? { status: 200, body: { ...this.userWire(user), mfa_enabled: false, locale: 'en-US' } } : apiError(401, 0, '401: Unauthorized');
      },
      { auth: false },
    );
    this.route('POST', '/oauth2/token', ({ call, body }) => this.oauth2.token(body, call.headers.authorization) as Reply, { auth: false });
    const application = (): Reply => ({ status: 200, body: this.applicationWire() });
    this.route('GET', '/applications/@me', application);
    this.route('GET', '/oauth2/applications/@me', application);
    this.route('POST', '/users/@me/channels', ({ body }) => {
      const recipientId = asString(asObject(body)?.recipient_id);
      if (!recipientId || !this.users.has(recipientId)) return apiError(400, 50033, 'Invalid Recipient(s)');
      return { status: 200, body: this.channelWire(this.dmChannelFor(recipientId)) };
    });
    this.route('GET', '/users/:user', ({ params }) => {
      const user = this.users.get(params.user ?? '');
      return user ? { status: 200, body: this.userWire(user) } : apiError(404, 10013, 'Unknown User');
    });

    // Commands
    for (const scope of ['global', 'guild'] as const) {
      const base = scope === 'global' ? '/applications/:app/commands' : '/applications/:app/guilds/:guild/commands';
      const scopeKey = (params: Record<string, string>): string | Reply => {
        if (params.app !== this.applicationId) {
          return apiError(403, 20012, 'You are not authorized to perform this action on this application');
        }
        if (scope === 'guild' && !this.guilds.has(params.guild ?? '')) return apiError(404, 10004, 'Unknown Guild');
        return scope === 'global' ? 'global' : (params.guild ?? '');
      };
      this.route('GET', base, ({ params }) => {
        const key = scopeKey(params);
        return typeof key === 'string' ? { status: 200, body: this.commandScopes.get(key) ?? [] } : key;
      });
      this.route('PUT', base, ({ params, body }) => {
        const key = scopeKey(params);
        if (typeof key !== 'string') return key;
        if (!Array.isArray(body)) return invalidForm('_root', 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
        const previous = this.commandScopes.get(key) ?? [];
        const stored: JsonObject[] = [];
        for (const [index, entry] of body.entries()) {
          const invalid = validateCommand(entry, `${index}`);
          if (invalid) return invalid;
          stored.push(this.storedCommand(entry as JsonObject, previous, key));
        }
        const names = stored.map((command) => `${String(command.type)}:${String(command.name)}`);
        if (new Set(names).size !== names.length) {
          return invalidForm('_root', 'APPLICATION_COMMANDS_DUPLICATE_NAME', 'Application command names must be unique');
        }
        this.commandScopes.set(key, stored);
        return { status: 200, body: stored };
      });
      this.route('POST', base, ({ params, body }) => {
        const key = scopeKey(params);
        if (typeof key !== 'string') return key;
        const invalid = validateCommand(body, '_root');
        if (invalid) return invalid;
        const previous = this.commandScopes.get(key) ?? [];
        const command = this.storedCommand(body as JsonObject, previous, key);
        const existing = previous.findIndex((candidate) => candidate.id === command.id);
        const next = [...previous];
        if (existing >= 0) next[existing] = command;
        else next.push(command);
        this.commandScopes.set(key, next);
        return { status: existing >= 0 ? 200 : 201, body: command };
      });
      this.route('GET', `${base}/:command`, ({ params }) => {
        const key = scopeKey(params);
        if (typeof key !== 'string') return key;
        const command = this.commandScopes.get(key)?.find((candidate) => candidate.id === params.command);
        return command ? { status: 200, body: command } : apiError(404, 10063, 'Unknown application command');
      });
      this.route('DELETE', `${base}/:command`, ({ params }) => {
        const key = scopeKey(params);
        if (typeof key !== 'string') return key;
        const commands = this.commandScopes.get(key) ?? [];
        if (!commands.some((candidate) => candidate.id === params.command)) return apiError(404, 10063, 'Unknown application command');
        this.commandScopes.set(key, commands.filter((candidate) => candidate.id !== params.command));
        return { status: 204 };
      });
    }

    // Interaction callbacks and the interaction webhook: authenticated by the token in the path.
    this.route('POST', '/interactions/:id/:token/callback', (context) => this.onCallback(context), { auth: false });
    this.route('POST', '/webhooks/:app/:token', (context) => this.onFollowUp(context), { auth: false });
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      this.route(method, '/webhooks/:app/:token/messages/:message', (context) => this.onWebhookMessage(method, context), {
        auth: false,
      });
    }

    // Channels
    this.route('GET', '/channels/:channel', ({ params }) => {
      const channel = this.channelById(params.channel ?? '');
      if (channel?.guildId && !this.requireGuild(channel.guildId).members.has(this.botUser.id)) return apiError(403, 50001, 'Missing Access');
      return channel ? { status: 200, body: this.channelWire(channel) } : apiError(404, 10003, 'Unknown Channel');
    });
    this.route('DELETE', '/channels/:channel', ({ params }) => {
      const channel = this.channelById(params.channel ?? '');
      if (!channel) return apiError(404, 10003, 'Unknown Channel');
      if (channel.guildId !== null) return apiError(403, 50013, 'Missing Permissions');
      return { status: 200, body: this.channelWire(channel) };
    });
    this.route('POST', '/channels/:channel/typing', ({ params }) =>
      this.channelById(params.channel ?? '') ? { status: 204 } : apiError(404, 10003, 'Unknown Channel'),
    );
    this.route('POST', '/channels/:channel/messages', (context) => this.onChannelPost(context));
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      this.route(method, '/channels/:channel/messages/:message', ({ params, body, files }) => {
        const stored = this.storedMessages.get(params.message ?? '');
        if (!this.channelById(params.channel ?? '')) return apiError(404, 10003, 'Unknown Channel');
        if (!stored || stored.deleted || stored.channelId !== params.channel || (asNumber(stored.wire.flags) ?? 0) & MessageFlags.Ephemeral) {
          return apiError(404, 10008, 'Unknown Message');
        }
        if (method === 'GET') return { status: 200, body: stored.wire };
        if (method === 'DELETE') {
          stored.deleted = true;
          return { status: 204 };
        }
        const next = this.composeMessage({ channelId: stored.channelId, body, uploads: files, base: stored });
        if (!isStoredMessage(next)) return next;
        this.storeMessage(next);
        return { status: 200, body: next.wire };
      });
    }

    // Guilds
    const guildRoute = (path: string, handler: (guild: GuildState, context: RequestContext) => Reply): void => {
      this.route('GET', path, (context) => {
        const guild = this.guilds.get(context.params.guild ?? '');
        if (guild && !guild.members.has(this.botUser.id)) return apiError(403, 50001, 'Missing Access');
        return guild ? handler(guild, context) : apiError(404, 10004, 'Unknown Guild');
      });
    };
    guildRoute('/guilds/:guild', (guild, { query }) => ({
      status: 200,
      body: {
        ...this.guildWire(guild),
        ...(query.get('with_counts') === 'true'
          ? { approximate_member_count: guild.members.size, approximate_presence_count: 0 }
          : {}),
      },
    }));
    guildRoute('/guilds/:guild/channels', (guild) => ({
      status: 200,
      body: [...guild.channels.values()].map((channel) => this.channelWire(channel)),
    }));
    guildRoute('/guilds/:guild/roles', (guild) => ({
      status: 200,
      body: [...guild.roles.values()].map((role) => this.roleWire(role)),
    }));
    guildRoute('/guilds/:guild/members', (guild, { query }) => {
      const limit = Number(query.get('limit') ?? '1');
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        return invalidForm('limit', 'NUMBER_TYPE_MAX', 'int value should be between 1 and 1000.');
      }
      const after = BigInt(/^\d+$/.test(query.get('after') ?? '') ? (query.get('after') ?? '0') : '0');
      const members = [...guild.members.values()]
        .filter((member) => BigInt(member.userId) > after)
        .sort((left, right) => (BigInt(left.userId) < BigInt(right.userId) ? -1 : 1))
        .slice(0, limit);
      return { status: 200, body: members.map((member) => this.memberWire(guild, member)) };
    });
    guildRoute('/guilds/:guild/members/search', (guild, { query }) => {
      const search = (query.get('query') ?? '').toLowerCase();
      const limit = Math.min(1000, Math.max(1, Number(query.get('limit') ?? '1') || 1));
      const members = [...guild.members.values()]
        .filter((member) => {
          const user = this.users.get(member.userId);
          return (user?.username.toLowerCase().startsWith(search) ?? false) || (member.nick?.toLowerCase().startsWith(search) ?? false);
        })
        .slice(0, limit);
      return { status: 200, body: members.map((member) => this.memberWire(guild, member)) };
    });
    guildRoute('/guilds/:guild/members/:user', (guild, { params }) => {
      const member = guild.members.get(params.user ?? '');
      return member ? { status: 200, body: this.memberWire(guild, member) } : apiError(404, 10007, 'Unknown Member');
    });
  }

  private applicationWire(): JsonObject {
    return {
      id: this.applicationId,
      name: this.botUser.username,
      icon: null,
      description: '',
      summary: '',
      type: null,
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: randomBytes(32).toString('hex'),
      flags: 0,
      owner: this.userWire(this.ownerUser),
      team: null,
      bot: this.userWire(this.botUser),
      approximate_guild_count: this.guilds.size,
      tags: [],
      install_params: { scopes: ['bot', 'applications.commands'], permissions: '0' },
      integration_types_config: { '0': {}, '1': {} },
    };
  }

  private storedCommand(body: JsonObject, previous: JsonObject[], scope: string): JsonObject {
    const type = asNumber(body.type) ?? ApplicationCommandType.ChatInput;
    const same = previous.find((command) => command.name === body.name && command.type === type);
    return {
      type,
      description: '',
      options: [],
      default_member_permissions: null,
      dm_permission: true,
      contexts: null,
      integration_types: [0],
      nsfw: false,
      name_localizations: null,
      description_localizations: null,
      ...body,
      id: asString(body.id) ?? asString(same?.id) ?? snowflake(),
      application_id: this.applicationId,
      version: snowflake(),
      ...(scope === 'global' ? {} : { guild_id: scope }),
    };
  }

  private onCallback({ call, params, query, body, files }: RequestContext): Reply {
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

  private interactionMessageExtra(state: InteractionState, followUp: boolean): JsonObject {
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

  private webhookState(params: Record<string, string>): InteractionState | Reply {
    const state = this.interactionsByToken.get(params.token ?? '');
    if (params.app !== this.applicationId || !state) return apiError(404, 10015, 'Unknown Webhook');
    // Discord only accepts follow-ups and edits once the interaction has been acknowledged.
    if (!state.acknowledged) return apiError(404, 10015, 'Unknown Webhook');
    return state;
  }

  private onFollowUp({ params, query, body, files }: RequestContext): Reply {
    const state = this.webhookState(params);
    if (!isInteractionState(state)) return state;
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

  private onWebhookMessage(method: string, { params, body, files }: RequestContext): Reply {
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

  private onChannelPost({ call, params, body, files }: RequestContext): Reply {
    const channel = this.channelById(params.channel ?? '');
    if (!channel) return apiError(404, 10003, 'Unknown Channel');
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

  private onCdnRequest(request: IncomingMessage, response: ServerResponse, url: URL, receivedAt: number): void {
    const path = url.pathname;
    const method = (request.method ?? 'GET').toUpperCase();
    const download: { -readonly [K in keyof Download]: Download[K] } = {
      path,
      receivedAt,
      status: 0,
      bytesSent: 0,
      completed: false,
      aborted: false,
    };
    request.resume(); // drain any body
    let entry = this.cdn.get(path);
    const avatar = /^\/avatars\/(\d+)\/([0-9a-f]+)\.(?:png|webp|jpg|jpeg|gif)$/.exec(path);
    if (!entry && avatar) {
      const user = this.users.get(avatar[1] ?? '');
      const bytes = this.avatars.get(avatar[1] ?? '');
      if (user && bytes && user.avatar === avatar[2]) {
        entry = { kind: 'file', bytes: bytes.bytes, contentType: bytes.contentType, contentLength: true, status: 200 };
      }
    }
    if (!entry || (method !== 'GET' && method !== 'HEAD')) {
      const call: MutableCall = {
        method,
        path,
        route: 'unknown',
        query: Object.fromEntries(url.searchParams),
        headers: request.headers,
        body: undefined,
        files: [],
        receivedAt,
        status: 404,
        response: { message: '404: Not Found', code: 0 },
        unexpected: true,
      };
      this.callLog.push(call);
      sendReply(response, { status: 404, body: call.response });
      this.waiters.notify();
      return;
    }
    this.downloadLog.push(download);
    const finish = (completed: boolean): void => {
      download.completed = completed;
      download.aborted = !completed;
      this.waiters.notify();
    };
    if (entry.kind === 'redirect') {
      download.status = entry.status;
      response.writeHead(entry.status, { location: entry.location, 'content-length': '0' });
      response.end(() => finish(true));
      return;
    }
    download.status = entry.status;
    const headers: Record<string, string> = { 'content-type': entry.contentType, 'cache-control': 'no-store' };
    if (entry.contentLength) headers['content-length'] = String(entry.bytes.length);
    response.writeHead(entry.status, headers);
    if (method === 'HEAD') {
      response.end(() => finish(true));
      return;
    }
    const bytes = entry.bytes;
    const chunkSize = entry.chunkSize;
    if (chunkSize === undefined) {
      response.end(bytes, () => {
        download.bytesSent = bytes.length;
        finish(true);
      });
      response.on('close', () => {
        if (!response.writableFinished) finish(false);
      });
      return;
    }
    let offset = 0;
    const timer = setInterval(() => {
      if (response.destroyed) return;
      const chunk = bytes.subarray(offset, offset + chunkSize);
      offset += chunk.length;
      download.bytesSent = offset;
      if (offset >= bytes.length) {
        clearInterval(timer);
        this.timers.delete(timer);
        response.end(chunk, () => finish(true));
      } else {
        response.write(chunk);
      }
    }, entry.intervalMs ?? 50);
    this.timers.add(timer);
    response.on('close', () => {
      clearInterval(timer);
      this.timers.delete(timer);
      if (!response.writableFinished) finish(false);
    });
  }

  // --- gateway -------------------------------------------------------------------------------

  private onGatewayConnection(ws: WebSocket): void {
    const connection: GatewayConnection = { ws, session: undefined };
    ws.on('error', (error) => this.log(`gateway socket error: ${error.message}`));
    ws.on('message', (raw) => this.onGatewayMessage(connection, raw));
    ws.on('close', () => {
      if (connection.session?.ws === ws) connection.session.ws = null;
      this.waiters.notify();
    });
    this.sendRaw(ws, { op: GatewayOpcodes.Hello, d: { heartbeat_interval: this.heartbeatIntervalMs, _trace: [] }, s: null, t: null });
  }

  private onGatewayMessage(connection: GatewayConnection, raw: RawData): void {
    const { ws } = connection;
    let payload: JsonObject | undefined;
    try {
      payload = asObject(JSON.parse(rawDataToString(raw)));
    } catch {
      payload = undefined;
    }
    if (!payload) {
      ws.close(GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
      return;
    }
    const d = payload.d;
    switch (payload.op) {
      case GatewayOpcodes.Heartbeat:
        this.sendRaw(ws, { op: GatewayOpcodes.HeartbeatAck, d: null, s: null, t: null });
        return;
      case GatewayOpcodes.Identify:
        this.onIdentify(connection, asObject(d));
        return;
      case GatewayOpcodes.Resume:
        this.onResume(connection, asObject(d));
        return;
      case GatewayOpcodes.PresenceUpdate:
      case GatewayOpcodes.VoiceStateUpdate:
        if (!connection.session) ws.close(GatewayCloseCodes.NotAuthenticated, 'Not authenticated.');
        return;
      case GatewayOpcodes.RequestGuildMembers:
        if (!connection.session) ws.close(GatewayCloseCodes.NotAuthenticated, 'Not authenticated.');
        else this.onRequestGuildMembers(connection.session, asObject(d));
        return;
      default:
        ws.close(GatewayCloseCodes.UnknownOpcode, 'Unknown opcode.');
    }
  }

  private onIdentify(connection: GatewayConnection, d: JsonObject | undefined): void {
    const { ws } = connection;
    if (connection.session) {
      ws.close(GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated.');
      return;
    }
    if (!d || asString(d.token)?.replace(/^Bot /, '') !== this.botToken) {
      ws.close(GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
      return;
    }
    const shardRaw = asArray(d.shard);
    const shard: [number, number] = [asNumber(shardRaw?.[0]) ?? 0, asNumber(shardRaw?.[1]) ?? 1];
    if (shard[1] < 1 || shard[0] < 0 || shard[0] >= shard[1]) {
      ws.close(GatewayCloseCodes.InvalidShard, 'Invalid shard.');
      return;
    }
    const session: GatewaySession = {
      id: randomBytes(16).toString('hex'),
      index: this.gatewaySessions.length,
      ws,
      shard,
      intents: asNumber(d.intents) ?? 0,
      seq: 0,
      ready: false,
      resumes: 0,
      buffer: [],
    };
    connection.session = session;
    this.gatewaySessions.push(session);
    const guilds = [...this.guilds.values()].filter((guild) => this.sessionOwnsGuild(session, guild.id) && guild.members.has(this.botUser.id));
    void this.dispatch(session, 'READY', {
      v: 10,
      user_settings: {},
      user: { ...this.userWire(this.botUser), verified: true, mfa_enabled: false, email: null },
      guilds: guilds.map((guild) => ({ id: guild.id, unavailable: true })),
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: this.gatewayUrl,
      shard,
      application: { id: this.applicationId, flags: 0 },
      private_channels: [],
      relationships: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
      _trace: [],
    });
    for (const guild of guilds) void this.dispatch(session, 'GUILD_CREATE', this.guildCreateWire(guild, session));
    session.ready = true;
    this.log(`gateway session ${session.index} identified (intents ${session.intents}, shard ${shard.join('/')})`);
    this.waiters.notify();
  }

  private onResume(connection: GatewayConnection, d: JsonObject | undefined): void {
    const { ws } = connection;
    if (connection.session) {
      ws.close(GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated.');
      return;
    }
    if (!d || asString(d.token)?.replace(/^Bot /, '') !== this.botToken) {
      ws.close(GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
      return;
    }
    const session = this.gatewaySessions.find((candidate) => candidate.id === d.session_id);
    if (!session) {
      this.sendRaw(ws, { op: GatewayOpcodes.InvalidSession, d: false, s: null, t: null });
      return;
    }
    if (session.ws && session.ws !== ws) session.ws.terminate();
    session.ws = ws;
    session.resumes += 1;
    connection.session = session;
    const since = asNumber(d.seq) ?? 0;
    for (const entry of session.buffer) if (entry.s > since) ws.send(entry.data);
    void this.dispatch(session, 'RESUMED', { _trace: [] });
    this.log(`gateway session ${session.index} resumed from seq ${since}`);
    this.waiters.notify();
  }

  private onRequestGuildMembers(session: GatewaySession, d: JsonObject | undefined): void {
    const guildIds = Array.isArray(d?.guild_id) ? d.guild_id : [d?.guild_id];
    for (const guildId of guildIds) {
      const guild = this.guilds.get(asString(guildId) ?? '');
      if (!guild) continue;
      const userIds = asArray(d?.user_ids) ?? (typeof d?.user_ids === 'string' ? [d.user_ids] : undefined);
      const search = asString(d?.query)?.toLowerCase();
      const limit = asNumber(d?.limit) ?? 0;
      let members = [...guild.members.values()];
      if (userIds) members = members.filter((member) => userIds.includes(member.userId));
      else if (search) members = members.filter((member) => this.users.get(member.userId)?.username.toLowerCase().startsWith(search));
      if (limit > 0) members = members.slice(0, limit);
      const notFound = userIds?.filter((id) => !guild.members.has(String(id))) ?? [];
      void this.dispatch(session, 'GUILD_MEMBERS_CHUNK', {
        guild_id: guild.id,
        members: members.map((member) => this.memberWire(guild, member)),
        chunk_index: 0,
        chunk_count: 1,
        ...(notFound.length > 0 ? { not_found: notFound } : {}),
        ...(d?.nonce === undefined ? {} : { nonce: d.nonce }),
      });
    }
  }

  private dispatch(session: GatewaySession, event: string, d: unknown): Promise<void> {
    session.seq += 1;
    const data = JSON.stringify({ op: GatewayOpcodes.Dispatch, t: event, s: session.seq, d });
    session.buffer.push({ s: session.seq, data });
    if (session.buffer.length > REPLAY_BUFFER_LIMIT) session.buffer.shift();
    const ws = session.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve) => ws.send(data, () => resolve()));
  }

  private broadcastToGuild(guild: GuildState, event: string, d: unknown, intent?: number): void {
    for (const session of this.gatewaySessions) {
      if (!session.ready || !this.sessionOwnsGuild(session, guild.id)) continue;
      if (intent !== undefined && !(session.intents & intent)) continue;
      void this.dispatch(session, event, d);
    }
  }

  private sendRaw(ws: WebSocket, payload: JsonObject): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(payload));
  }

  dropGatewayConnections(code = 4000): void {
    for (const client of this.wss.clients) client.close(code, 'Dropped by the test');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.close(new Error('The Discord test server was closed'));
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    // A terminal close code: discord.js stops instead of reconnecting forever to a dead port.
    const clients = [...this.wss.clients];
    await Promise.all(
      clients.map(
        (client) =>
          new Promise<void>((resolve) => {
            if (client.readyState === WebSocket.CLOSED) {
              resolve();
              return;
            }
            const force = setTimeout(() => {
              client.terminate();
              resolve();
            }, 1000);
            client.once('close', () => {
              clearTimeout(force);
              resolve();
            });
            client.close(GatewayCloseCodes.AuthenticationFailed, 'Test server closing');
          }),
      ),
    );
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
    });
  }
}

// ---------------------------------------------------------------------------------------------
// The handle a test holds for one interaction
// ---------------------------------------------------------------------------------------------

class InteractionHandle implements Interaction {
  constructor(
    private readonly server: LocalDiscord,
    /** @internal */
    readonly state: InteractionState,
  ) {}

  get id(): string {
    return this.state.id;
  }
  get token(): string {
    return this.state.token;
  }
  get type(): number {
    return this.state.type;
  }
  get user(): TestUser {
    return this.state.user;
  }
  get guildId(): string | null {
    return this.state.guild?.id ?? null;
  }
  get channelId(): string {
    return this.state.channel.id;
  }
  get sessionId(): string {
    return this.state.sessionId;
  }
  get payload(): Readonly<Record<string, unknown>> {
    return this.state.payload;
  }
  get sentAt(): number {
    return this.state.sentAt;
  }
  get callbacks(): readonly InteractionCallback[] {
    return this.state.callbacks;
  }
  get acknowledged(): boolean {
    return this.state.acknowledged;
  }
  get ackMs(): number | undefined {
    const ack = this.state.callbacks.find((callback) => callback.status < 300);
    return ack ? ack.receivedAt - this.state.sentAt : undefined;
  }
  get original(): Message | undefined {
    return this.state.originalId ? this.server.message(this.state.originalId) : undefined;
  }
  get followUps(): readonly Message[] {
    return this.state.followUpIds.flatMap((id) => {
      const message = this.server.message(id);
      return message ? [message] : [];
    });
  }
  get ephemeral(): boolean {
    const original = this.original;
    if (original) return ((original.flags ?? 0) & MessageFlags.Ephemeral) !== 0;
    const first = this.state.callbacks.find((callback) => callback.status < 300);
    return ((asNumber(first?.data?.flags) ?? 0) & MessageFlags.Ephemeral) !== 0;
  }
  get files(): readonly StoredFile[] {
    const original = this.original;
    return original ? this.server.filesOf(original) : [];
  }
  get modal(): ModalData | undefined {
    return this.state.modal;
  }
  get choices(): readonly AutocompleteChoice[] | undefined {
    return this.state.choices;
  }

  waitForAck(timeoutMs?: number): Promise<InteractionCallback> {
    return this.server.waitFor(
      () => this.state.callbacks.find((callback) => callback.status < 300),
      timeoutMs,
      `an accepted callback for interaction ${this.id}${this.state.commandName ? ` (/${this.state.commandName})` : ''}`,
    );
  }

  async firstResponseMs(timeoutMs?: number): Promise<number> {
    const first = await this.server.waitFor(
      () => this.state.callbacks[0],
      timeoutMs,
      `a callback for interaction ${this.id}${this.state.commandName ? ` (/${this.state.commandName})` : ''}`,
    );
    return first.receivedAt - this.state.sentAt;
  }

  waitForReply(predicate?: (message: Message) => boolean, timeoutMs?: number): Promise<Message> {
    return this.server.waitFor(
      () => {
        const original = this.original;
        if (!original) return undefined;
        if (predicate) return predicate(original) ? original : undefined;
        const loading = ((original.flags ?? 0) & MessageFlags.Loading) !== 0;
        return this.state.originalWrites > 0 && !loading ? original : undefined;
      },
      timeoutMs,
      () =>
        `a reply to interaction ${this.id}${this.state.commandName ? ` (/${this.state.commandName})` : ''}` +
        (this.original ? `; @original is now ${JSON.stringify(this.original.content)}` : '; no @original yet'),
    );
  }

  waitForFollowUp(predicate: (message: Message) => boolean = () => true, timeoutMs?: number): Promise<Message> {
    return this.server.waitFor(
      () => this.followUps.find(predicate),
      timeoutMs,
      `a follow-up to interaction ${this.id} (${this.followUps.length} so far)`,
    );
  }

  waitForModal(timeoutMs?: number): Promise<ModalData> {
    return this.server.waitFor(() => this.state.modal, timeoutMs, `a modal for interaction ${this.id}`);
  }

  click(customId: string, userOrOptions?: TestUser | ComponentOptions): Promise<Interaction> {
    return this.server.componentInteraction(componentOptions(userOrOptions), customId, undefined, this.state);
  }

  select(customId: string, values: string[], userOrOptions?: TestUser | ComponentOptions): Promise<Interaction> {
    return this.server.componentInteraction(componentOptions(userOrOptions), customId, values, this.state);
  }

  submitModal(fields: Record<string, ModalFieldValue>, user?: TestUser): Promise<Interaction>;
  submitModal(customId: string, fields: Record<string, ModalFieldValue>, user?: TestUser): Promise<Interaction>;
  submitModal(
    first: string | Record<string, ModalFieldValue>,
    second?: Record<string, ModalFieldValue> | TestUser,
    third?: TestUser,
  ): Promise<Interaction> {
    if (typeof first === 'string') {
      return this.server.submitModalFor(this.state, first, (second ?? {}) as Record<string, ModalFieldValue>, third);
    }
    return this.server.submitModalFor(this.state, undefined, first, second as TestUser | undefined);
  }
}

/** A modal or component sent from the same user's client carries that client's language. */
const localeOption = (locale: string | undefined): { locale?: string } => (locale === undefined ? {} : { locale });

function componentOptions(userOrOptions: TestUser | ComponentOptions | undefined): ComponentOptions {
  if (userOrOptions === undefined) return {};
  return 'username' in userOrOptions ? { user: userOrOptions } : userOrOptions;
}

// ---------------------------------------------------------------------------------------------
// Validation (the mistakes Discord rejects and a bot is likely to make)
// ---------------------------------------------------------------------------------------------

function allowedCallbacks(state: InteractionState): number[] {
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

function validateMessage(wire: JsonObject): Reply | undefined {
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

function validateCommand(entry: unknown, path: string): Reply | undefined {
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
const INTERACTION_CONTEXTS: readonly number[] = [InteractionContextType.Guild, InteractionContextType.BotDM, InteractionContextType.PrivateChannel];

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

function validateChoices(raw: unknown): Reply | undefined {
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

function validateModal(data: JsonObject | undefined): Reply | undefined {
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

function inferOptionType(value: OptionValue): number {
  if (typeof value === 'string') return ApplicationCommandOptionType.String;
  if (typeof value === 'boolean') return ApplicationCommandOptionType.Boolean;
  if (typeof value === 'number') return Number.isInteger(value) ? ApplicationCommandOptionType.Integer : ApplicationCommandOptionType.Number;
  if ('attachment' in value) return ApplicationCommandOptionType.Attachment;
  if ('user' in value) return ApplicationCommandOptionType.User;
  if ('channel' in value) return ApplicationCommandOptionType.Channel;
  return ApplicationCommandOptionType.Role;
}

const guildMember = (guild: GuildState, userId: string): MemberState | undefined => guild.members.get(userId);

/** `context` as Discord sends it: in a server, in the DM with the bot, or in any other DM or group DM. */
const interactionContextOf = (context: CommandContext): InteractionContextType =>
  context.guild
    ? InteractionContextType.Guild
    : context.channel.type === ChannelType.DM && context.channel.recipientId === context.user.id
      ? InteractionContextType.BotDM
      : InteractionContextType.PrivateChannel;

function isStoredMessage(value: StoredMessage | Reply): value is StoredMessage {
  return 'wire' in value;
}

function isInteractionState(value: InteractionState | Reply): value is InteractionState {
  return 'token' in value;
}

function sendReply(response: ServerResponse, reply: Reply): void {
  if (reply.status === 204 || reply.body === undefined) {
    response.writeHead(reply.status, reply.headers ?? {});
    response.end();
    return;
  }
  const text = JSON.stringify(reply.body);
  response.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...(reply.headers ?? {}),
  });
  response.end(text);
}

/** Starts a Discord-compatible server on 127.0.0.1 (random port) with a default guild and channel. */
export async function startDiscordServer(options: DiscordServerOptions = {}): Promise<DiscordServer> {
  const server = new LocalDiscord(options);
  await server.listen();
  return server;
}
