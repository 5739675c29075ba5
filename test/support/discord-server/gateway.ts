/**
 * The gateway: identify, resume, heartbeats, member requests and dispatching events to sessions.
 */
import { randomBytes } from 'node:crypto';
import { GatewayCloseCodes, GatewayOpcodes } from 'discord.js';
import { WebSocket, type RawData } from 'ws';
import { type JsonObject, asArray, asNumber, asObject, asString, rawDataToString } from './helpers.js';
import { type GatewayConnection, type GatewaySession, type GuildState, REPLAY_BUFFER_LIMIT } from './state.js';
import type { LocalDiscord } from './server.js';

/** Mixed into LocalDiscord (./server.ts): `this` is the whole server. */
export class GatewayMethods {
  onGatewayConnection(this: LocalDiscord, ws: WebSocket): void {
    const connection: GatewayConnection = { ws, session: undefined };
    ws.on('error', (error) => this.log(`gateway socket error: ${error.message}`));
    ws.on('message', (raw) => this.onGatewayMessage(connection, raw));
    ws.on('close', () => {
      if (connection.session?.ws === ws) connection.session.ws = null;
      this.waiters.notify();
    });
    this.sendRaw(ws, { op: GatewayOpcodes.Hello, d: { heartbeat_interval: this.heartbeatIntervalMs, _trace: [] }, s: null, t: null });
  }

  onGatewayMessage(this: LocalDiscord, connection: GatewayConnection, raw: RawData): void {
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

  onIdentify(this: LocalDiscord, connection: GatewayConnection, d: JsonObject | undefined): void {
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

  onResume(this: LocalDiscord, connection: GatewayConnection, d: JsonObject | undefined): void {
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

  onRequestGuildMembers(this: LocalDiscord, session: GatewaySession, d: JsonObject | undefined): void {
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

  dispatch(this: LocalDiscord, session: GatewaySession, event: string, d: unknown): Promise<void> {
    session.seq += 1;
    const data = JSON.stringify({ op: GatewayOpcodes.Dispatch, t: event, s: session.seq, d });
    session.buffer.push({ s: session.seq, data });
    if (session.buffer.length > REPLAY_BUFFER_LIMIT) session.buffer.shift();
    const ws = session.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve) => ws.send(data, () => resolve()));
  }

  broadcastToGuild(this: LocalDiscord, guild: GuildState, event: string, d: unknown, intent?: number): void {
    for (const session of this.gatewaySessions) {
      if (!session.ready || !this.sessionOwnsGuild(session, guild.id)) continue;
      if (intent !== undefined && !(session.intents & intent)) continue;
      void this.dispatch(session, event, d);
    }
  }

  sendRaw(this: LocalDiscord, ws: WebSocket, payload: JsonObject): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(payload));
  }

  dropGatewayConnections(this: LocalDiscord, code = 4000): void {
    for (const client of this.wss.clients) client.close(code, 'Dropped by the test');
  }
}
