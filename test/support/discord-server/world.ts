/**
 * Guilds and members: building the world a test needs (users, members, roles, guilds, channels, overwrites, DMs) and served files.
 */
import { randomBytes } from 'node:crypto';
import { ChannelType, GatewayIntentBits } from 'discord.js';
import type { Interceptor, MemberInput, PermissionOverwriteInput, TestChannel, TestGuild, TestRole, TestUser } from './types.js';
import { EVERYONE_PERMISSIONS, guessContentType, sanitizeFilename, sniffImageType, snowflake } from './helpers.js';
import type { ChannelState, GuildState, MemberState, RoleState } from './state.js';
import type { LocalDiscord } from './server.js';

/** Mixed into LocalDiscord (./server.ts): `this` is the whole server. */
export class WorldMethods {
  addUser(this: LocalDiscord, input: { id?: string; username?: string; globalName?: string | null; avatar?: Buffer } = {}): TestUser {
    return this.addUserInternal(input);
  }

  addUserInternal(this: LocalDiscord, input: {
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

  addMember(this: LocalDiscord, input: MemberInput = {}): TestUser {
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

  addRole(this: LocalDiscord, input: { name?: string; permissions?: bigint | string; guildId?: string } = {}): TestRole {
    const guild = this.requireGuild(input.guildId ?? this.guild.id);
    const role = this.createRole(guild, {
      name: input.name ?? `role-${guild.roles.size}`,
      permissions: BigInt(input.permissions ?? 0n),
    });
    return { id: role.id, guildId: guild.id, name: role.name, permissions: role.permissions.toString() };
  }

  createRole(this: LocalDiscord, guild: GuildState, input: { name: string; permissions: bigint; botId?: string }): RoleState {
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

  addGuild(this: LocalDiscord, input: { name?: string; ownerId?: string; withBot?: boolean; preferredLocale?: string; shard?: number } = {}): TestGuild {
    const id = input.shard === undefined ? snowflake() : this.guildIdOnShard(input.shard);
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

  /**
   * A fresh guild id that Discord's rule `(guild_id >> 22) % shard_count` deals to `shard` of the recommended
   * count: its timestamp moved back by under `shardCount` ms, and bit 21 set (no plain snowflake sets it) with
   * a counter below, so it never equals another id.
   */
  guildIdOnShard(this: LocalDiscord, shard: number): string {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.shardCount) throw new Error(`shard ${shard} is not one of the ${this.shardCount} this server recommends`);
    const count = BigInt(this.shardCount);
    const ms = BigInt(snowflake()) >> 22n;
    this.placedGuilds += 1;
    return (((ms - ((ms - BigInt(shard)) % count + count) % count) << 22n) | (1n << 21n) | BigInt(this.placedGuilds)).toString();
  }

  addChannel(this: LocalDiscord, input: { guildId?: string; name?: string; type?: number } = {}): TestChannel {
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

  addPrivateChannel(this: LocalDiscord, input: { recipients: readonly TestUser[]; type?: ChannelType.DM | ChannelType.GroupDM; name?: string }): TestChannel {
    const type = input.type ?? (input.recipients.length === 2 ? ChannelType.DM : ChannelType.GroupDM);
    if (type === ChannelType.DM && input.recipients.length !== 2) throw new Error('A DM between users has exactly two recipients');
    if (input.recipients.some((user) => user.id === this.botUser.id)) throw new Error("The bot's own DM is dmChannelFor; a private channel is one the bot is not in");
    const channel: ChannelState = {
      id: snowflake(),
      guildId: null,
      name: type === ChannelType.GroupDM ? (input.name ?? input.recipients.map((user) => user.username).join(', ')) : '',
      type,
      position: 0,
      lastMessageId: null,
      recipientIds: input.recipients.map((user) => user.id),
      ...(type === ChannelType.GroupDM && input.recipients[0] ? { ownerId: input.recipients[0].id } : {}),
    };
    this.privateChannels.set(channel.id, channel);
    return { id: channel.id, guildId: null, name: channel.name, type };
  }

  setChannelOverwrites(this: LocalDiscord, channelId: string, overwrites: PermissionOverwriteInput[]): void {
    const channel = this.channelById(channelId);
    if (!channel?.guildId) throw new Error(`Unknown guild channel ${channelId}`);
    channel.overwrites = overwrites.map((overwrite) => ({ ...overwrite }));
    this.broadcastToGuild(this.requireGuild(channel.guildId), 'CHANNEL_UPDATE', this.channelWire(channel));
    this.waiters.notify();
  }

  removeMember(this: LocalDiscord, userId: string, guildId: string = this.guild.id): void {
    const guild = this.requireGuild(guildId);
    if (!guild.members.delete(userId)) throw new Error(`${userId} is not a member of guild ${guildId}`);
    const user = this.users.get(userId);
    this.broadcastToGuild(guild, 'GUILD_MEMBER_REMOVE', { guild_id: guild.id, user: user ? this.userWire(user) : { id: userId } }, GatewayIntentBits.GuildMembers);
    this.waiters.notify();
  }

  permissionsIn(this: LocalDiscord, channelId: string, userId: string): bigint {
    const channel = this.channelById(channelId);
    if (!channel) throw new Error(`Unknown channel ${channelId}`);
    return this.channelPermissions(channel, userId);
  }

  setDmsClosed(this: LocalDiscord, userId: string, closed = true): void {
    if (closed) this.dmsClosed.add(userId);
    else this.dmsClosed.delete(userId);
  }

  intercept(this: LocalDiscord, interceptor: Interceptor): () => void {
    this.interceptors.add(interceptor);
    return () => this.interceptors.delete(interceptor);
  }

  serveFile(
    this: LocalDiscord,
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

  serveRedirect(this: LocalDiscord, location: string, status = 302): string {
    this.servedCounter += 1;
    const path = `/redirect/${this.servedCounter}`;
    this.cdn.set(path, { kind: 'redirect', location, status });
    return `${this.url}${path}`;
  }
}
