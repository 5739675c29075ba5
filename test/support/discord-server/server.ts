/**
 * The server object: its state, its lifecycle (listen, close) and the getters tests read. Its methods live
 * in the modules of this folder, one per concern, and are mixed in below.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { GatewayCloseCodes } from 'discord.js';
import { WebSocket, WebSocketServer } from 'ws';
import { DiscordOAuth2 } from '../discord-oauth2.js';
import type { DiscordServer, DiscordServerOptions, Download, GatewaySessionInfo, Interaction, Interceptor, PostedMessage, RecordedCall, RegisteredCommand, TestGuild, TestUser } from './types.js';
import { DEFAULT_ATTACHMENT_SIZE_LIMIT, type JsonObject, Waiters, snowflake } from './helpers.js';
import type { CdnFile, CdnRedirect, ChannelState, GatewaySession, GuildState, InteractionState, MutableCall, Route, StoredMessage } from './state.js';
import { InteractionHandle } from './interaction-handle.js';
import { WorldMethods } from './world.js';
import { WaitingMethods } from './waiting.js';
import { InteractionsMethods } from './interactions.js';
import { WireMethods } from './wire.js';
import { MessagesMethods } from './messages.js';
import { RoutesMethods } from './routes.js';
import { CallbacksMethods } from './callbacks.js';
import { CdnMethods } from './cdn.js';
import { GatewayMethods } from './gateway.js';

export class LocalDiscord implements DiscordServer {
  url = '';
  apiUrl = '';
  cdnUrl = '';
  gatewayUrl = '';
  readonly applicationId: string;
  readonly botToken: string;
  readonly botUser: TestUser;
  readonly oauth2: DiscordOAuth2;
  guild!: TestGuild;

  readonly http = createServer((request, response) => void this.onRequest(request, response));
  readonly wss = new WebSocketServer({ server: this.http });
  readonly sockets = new Set<Socket>();
  readonly timers = new Set<NodeJS.Timeout>();
  readonly waiters = new Waiters();
  readonly log: (line: string) => void;
  readonly heartbeatIntervalMs: number;
  readonly interactionTimeoutMs: number;
  readonly timeoutMs: number;
  readonly shardCount: number;
  readonly maxConcurrency: number;
  readonly botPermissions: bigint;
  readonly attachmentSizeLimit: number;
  readonly ownerUser: TestUser;

  readonly callLog: MutableCall[] = [];
  readonly users = new Map<string, TestUser>();
  readonly avatars = new Map<string, { bytes: Buffer; contentType: string }>();
  readonly guilds = new Map<string, GuildState>();
  readonly dmChannels = new Map<string, ChannelState>();
  /** DMs between users and group DMs, by channel id: channels the bot is not in. */
  readonly privateChannels = new Map<string, ChannelState>();
  readonly dmsClosed = new Set<string>();
  readonly commandScopes = new Map<string, JsonObject[]>();
  readonly storedMessages = new Map<string, StoredMessage>();
  readonly posted: PostedMessage[] = [];
  readonly cdn = new Map<string, CdnFile | CdnRedirect>();
  readonly downloadLog: Download[] = [];
  readonly interactionStates = new Map<string, InteractionState>();
  readonly interactionsByToken = new Map<string, InteractionState>();
  readonly handles: InteractionHandle[] = [];
  readonly gatewaySessions: GatewaySession[] = [];
  readonly interceptors = new Set<Interceptor>();
  readonly routes: Route[] = [];
  roundRobin = 0;
  placedGuilds = 0;
  servedCounter = 0;
  userCounter = 0;
  closed = false;

  constructor(options: DiscordServerOptions) {
    this.applicationId = options.applicationId ?? snowflake();
    this.botToken = options.botToken ?? `${Buffer.from(this.applicationId).toString('base64url')}.test.${randomBytes(16).toString('base64url')}`;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
    this.interactionTimeoutMs = options.interactionTimeoutMs ?? 3000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.shardCount = Math.max(1, options.shards ?? 1);
    this.maxConcurrency = Math.max(1, options.maxConcurrency ?? 1);
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

/** The methods each concern's module adds to the server: typed by declaration merging, copied onto the prototype. */
export interface LocalDiscord extends WorldMethods, WaitingMethods, InteractionsMethods, WireMethods, MessagesMethods, RoutesMethods, CallbacksMethods, CdnMethods, GatewayMethods {}
for (const part of [WorldMethods, WaitingMethods, InteractionsMethods, WireMethods, MessagesMethods, RoutesMethods, CallbacksMethods, CdnMethods, GatewayMethods]) {
  for (const name of Object.getOwnPropertyNames(part.prototype)) {
    if (name !== 'constructor') Object.defineProperty(LocalDiscord.prototype, name, Object.getOwnPropertyDescriptor(part.prototype, name)!);
  }
}
